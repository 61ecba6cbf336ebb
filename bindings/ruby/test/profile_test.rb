# frozen_string_literal: true

# The profile wrappers: the ENOTSUP answer of the library the other tests
# load (built without profiling), and the success path against the profiling
# library ($GB_PROFILING_LIB, default libgraphbit_alloc_profiling.so beside
# $GRAPHBIT_ALLOC_LIB; "skip" skips). That library is the initial-exec build,
# which a running process cannot dlopen: that test runs in a child ruby that
# preloads it, so Fiddle.dlopen finds it already loaded.
require "minitest/autorun"
require "open3"
require "rbconfig"
require "tmpdir"
require "graphbit_alloc"

class ProfileTest < Minitest::Test
  LIB_DIR = File.expand_path("../lib", __dir__)

  def test_without_profiling_every_call_raises_enotsup
    Dir.mktmpdir do |dir|
      path = File.join(dir, "heap.pb.gz")
      assert_raises(Errno::ENOTSUP) { GraphbitAlloc.profile_start }
      assert_raises(Errno::ENOTSUP) { GraphbitAlloc.profile_stop }
      assert_raises(Errno::ENOTSUP) { GraphbitAlloc.profile_dump(path) }
      assert_raises(Errno::ENOTSUP) { GraphbitAlloc.profile_dump(path, peak: true) }
      refute File.exist?(path)
    end
    assert_raises(ArgumentError) { GraphbitAlloc.profile_start(-1) }
    assert_raises(ArgumentError) { GraphbitAlloc.profile_dump("a\0b") }
  end

  CHILD = <<~'RUBY'
    require "graphbit_alloc"
    lib = GraphbitAlloc::Library.new(ENV.fetch("GB_PROFILING_LIB"))
    dir = ARGV.fetch(0)
    lib.profile_start(4096)
    begin
      lib.profile_start
      abort "profile_start while sampling did not raise EBUSY"
    rescue Errno::EBUSY
    end
    blocks = Array.new(1000) { lib.fn["gb_alloc"].call(1000) }
    lib.profile_dump(File.join(dir, "heap.pb.gz"))
    lib.profile_dump(File.join(dir, "heap.pb.gz.peak"), peak: true)
    %w[heap.pb.gz heap.pb.gz.peak].each do |file|
      head = File.binread(File.join(dir, file), 2)
      abort "#{file} is not gzip" unless head == "\x1f\x8b".b
    end
    begin
      lib.profile_dump(File.join(dir, "no", "such", "dir"))
      abort "a dump into a missing directory did not raise ENOENT"
    rescue Errno::ENOENT
    end
    lib.profile_stop
    begin
      lib.profile_stop
      abort "profile_stop when stopped did not raise EINVAL"
    rescue Errno::EINVAL
    end
    blocks.each { |b| lib.fn["gb_free"].call(b) }
    puts "profile ok"
  RUBY

  def profiling_library
    given = ENV["GB_PROFILING_LIB"]
    return nil if given == "skip"
    return File.expand_path(given) if given && !given.empty?

    beside = ENV.fetch(GraphbitAlloc::ENV_VAR) { flunk "set #{GraphbitAlloc::ENV_VAR} or GB_PROFILING_LIB" }
    File.join(File.dirname(File.expand_path(beside)), "libgraphbit_alloc_profiling.so")
  end

  def test_with_the_profiling_library_the_calls_work
    lib = profiling_library
    skip "GB_PROFILING_LIB=skip" if lib.nil?
    assert File.file?(lib), "no profiling library at #{lib} (cmake --build --preset default, or set GB_PROFILING_LIB)"
    Dir.mktmpdir do |dir|
      env = { "LD_PRELOAD" => lib, "GB_PROFILING_LIB" => lib }
      out, err, status = Open3.capture3(env, RbConfig.ruby, "-I", LIB_DIR, "-e", CHILD, dir)
      assert status.success?, "child failed:\n#{out}\n#{err}"
      assert_match(/profile ok/, out)
    end
  end
end
