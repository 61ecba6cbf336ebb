# frozen_string_literal: true

# Tests of the Ruby binding against a real library: $GRAPHBIT_ALLOC_LIB
# (test.sh and ctest set it to the dlopen variant CMake built);
# $GB_EXPECT_BACKEND, when set, is the backend it must report;
# $GB_INITIAL_EXEC_LIB the initial-exec library, for the static TLS test.
require "minitest/autorun"
require "fileutils"
require "open3"
require "rbconfig"
require "stringio"
require "tmpdir"
require "graphbit_alloc"

module Helpers
  BINDING = File.expand_path("..", __dir__)
  REPO = File.expand_path("../..", BINDING)
  HEADER = File.join(REPO, "include", "graphbit_alloc.h")
  MIB = 1 << 20

  # name => number of parameters, for every function the C header declares.
  def header_functions
    text = File.read(HEADER).gsub(%r{/\*.*?\*/}m, "")
    re = /^(?:GB_NODISCARD\s+)?[A-Za-z_][\w\s*]*?\b(gb_\w+)\(([^)]*)\)(?:\s*GB_[A-Z0-9_]+(?:\([^)]*\))?)*\s*;/
    text.scan(re).to_h do |name, params|
      params = params.strip
      [name, params.empty? || params == "void" ? 0 : params.count(",") + 1]
    end
  end

  # gb_stats' allocated is live bytes, except on mimalloc: an upper bound that
  # freeing does not lower (include/graphbit_alloc.h).
  def live_bytes? = GraphbitAlloc.allocator_name != "mimalloc"

  def ruby(code, env = {}, chdir: REPO)
    clean = { "GRAPHBIT_ALLOC_LIB" => nil }.merge(env)
    Open3.capture3(clean, RbConfig.ruby, "-e", code, chdir: chdir)
  end
end

class BindingTest < Minitest::Test
  include Helpers

  def test_signatures_cover_the_header
    declared = header_functions
    assert_operator declared.size, :>=, 13
    assert_equal declared.keys.sort, GraphbitAlloc::SIGNATURES.keys.sort
    declared.each { |name, count| assert_equal count, GraphbitAlloc::SIGNATURES[name][0].size, name }
    declared.each_key { |name| assert_kind_of Fiddle::Function, GraphbitAlloc.library.fn[name], name }
  end

  def test_identity
    name = GraphbitAlloc.allocator_name
    assert_includes %w[jemalloc mimalloc system], name
    expected = ENV["GB_EXPECT_BACKEND"]
    assert_equal expected, name if expected && !expected.empty?
    refute_empty GraphbitAlloc.allocator_version
    version = File.read(HEADER)[/#define GB_VERSION_STRING "([^"]+)"/, 1]
    assert_equal version, GraphbitAlloc.version
    major, minor, patch = version.split(".").map(&:to_i)
    assert_equal major * 10_000 + minor * 100 + patch, GraphbitAlloc.version_number
    assert_equal ENV.fetch("GRAPHBIT_ALLOC_LIB"), GraphbitAlloc.library.path
  end

  def test_verify_and_report
    assert_equal true, GraphbitAlloc.verify
    report = GraphbitAlloc.verify_report
    assert_equal true, report["passed"]
    assert_equal GraphbitAlloc.allocator_name, report["backend"]
    refute_empty report["checks"]
    assert(report["checks"].all? { |check| check["passed"] })
    assert_operator GraphbitAlloc.backend_stats_text.size, :>, 20
  end

  def test_allocate_write_read_free
    buf = GraphbitAlloc::Buffer.new(1000)
    assert_equal 1000, buf.size
    assert_operator buf.usable_size, :>=, 1000
    assert_equal 1000, buf.write("\x5a".b * 1000)
    assert_equal "\x5a".b * 1000, buf.read
    buf.write("graphbit", 10)
    assert_equal "graphbit", buf.read(10, 8)
    assert_equal Encoding::BINARY, buf.read(0, 1).encoding
    assert_raises(IndexError) { buf.write("xy", 999) }
    assert_raises(IndexError) { buf.read(999, 2) }
    assert_raises(IndexError) { buf.read(-1, 1) }
    buf.free
    assert buf.freed?
    assert_nil buf.free # a second free does nothing
    [-> { buf.read }, -> { buf.write("x") }, -> { buf.address }, -> { buf.to_ptr },
     -> { buf.usable_size }, -> { buf.to_s }].each do |use|
      error = assert_raises(GraphbitAlloc::FreedBufferError) { use.call }
      assert_match(/freed/, error.message)
    end
  end

  def test_block_form_frees_on_return_and_on_raise
    kept = nil
    result = GraphbitAlloc::Buffer.open(64) { |buf| kept = buf; buf.write("abc"); buf.read(0, 3) }
    assert_equal "abc", result
    assert kept.freed?
    assert_raises(RuntimeError) { GraphbitAlloc.buffer(64, zeroed: true) { |buf| kept = buf; raise "boom" } }
    assert kept.freed?
    unfreed = GraphbitAlloc::Buffer.open(8) # without a block: the Buffer
    refute unfreed.freed?
    unfreed.free
  end

  def test_string_copies
    buf = GraphbitAlloc::Buffer.from_string("héllo wörld")
    assert_equal "héllo wörld".bytesize, buf.size
    assert_equal "héllo wörld".b, buf.to_s
    assert_equal "héllo wörld", buf.to_s.force_encoding(Encoding::UTF_8)
    buf.free
    GraphbitAlloc::Buffer.open(0) { |empty| assert_equal "", empty.read }
  end

  def test_zeroed
    20.times do
      GraphbitAlloc::Buffer.open(8192) { |dirty| dirty.write("\xa5".b * 8192) }
      GraphbitAlloc::Buffer.open(8192, zeroed: true) { |zero| assert_equal "\0" * 8192, zero.read }
    end
  end

  def test_aligned
    [64, 4096, 1 << 16].each do |alignment|
      GraphbitAlloc::Buffer.open(1000, alignment: alignment, zeroed: true) do |buf|
        assert_equal 0, buf.address % alignment, "alignment #{alignment}"
        assert_equal "\0" * 1000, buf.read
        buf.write("\1" * 1000)
        assert_equal "\1" * 1000, buf.read
      end
    end
  end

  def test_errors_are_rubys_errors
    half = 2**64 / 2 - 1 # SIZE_MAX / 2 = PTRDIFF_MAX
    [{}, { zeroed: true }, { alignment: 64 }].each do |options|
      error = assert_raises(GraphbitAlloc::OutOfMemoryError) { GraphbitAlloc::Buffer.new(half, **options) }
      assert_kind_of NoMemoryError, error
      assert_match(/out of memory \(ENOMEM\)/, error.message)
    end
    [3, 48].each do |alignment|
      error = assert_raises(GraphbitAlloc::InvalidArgumentError) { GraphbitAlloc::Buffer.new(8, alignment: alignment) }
      assert_kind_of ArgumentError, error
      assert_match(/EINVAL/, error.message)
    end
    assert_raises(ArgumentError) { GraphbitAlloc::Buffer.new(8, alignment: 0) }
    assert_raises(ArgumentError) { GraphbitAlloc::Buffer.new(-1) }
    assert_raises(ArgumentError) { GraphbitAlloc::Buffer.new(1.5) }
    GraphbitAlloc::Buffer.open(16) { |after| assert_equal 16, after.size } # a success after failures
  end

  def test_stats_follow_a_large_block
    size = 64 * MIB
    before = GraphbitAlloc.stats
    refute_nil before.allocated
    before.to_h.each_value { |v| assert(v.nil? || v >= 0) }
    GraphbitAlloc::Buffer.open(size) do |buf|
      ptr = buf.to_ptr
      (0...size).step(4096) { |at| ptr[at] = 1 } # touch every page
      during = GraphbitAlloc.stats
      grew = during.allocated - before.allocated
      assert_operator during.allocated, :>=, size
      assert_operator grew, :>=, size * 95 / 100, "allocated grew by #{grew}" if live_bytes?
      assert_operator during.resident - before.resident, :>=, size * 9 / 10 if during.resident
    end
    after = GraphbitAlloc.stats
    assert_operator after.peak_resident, :>=, size
    assert_operator after.allocated - before.allocated, :<, size / 2 if live_bytes?
    assert_nil GraphbitAlloc.trim
    assert_nil GraphbitAlloc.thread_idle
  end

  def test_owns
    GraphbitAlloc::Buffer.open(100) do |buf|
      owned = GraphbitAlloc.allocator_name != "system"
      assert_equal owned, GraphbitAlloc.owns?(buf)
      assert_equal owned, GraphbitAlloc.owns?(buf.address)
    end
    ruby_memory = Fiddle::Pointer.malloc(100, Fiddle::RUBY_FREE)
    refute GraphbitAlloc.owns?(ruby_memory)
    refute GraphbitAlloc.owns?(nil)
  end

  def test_a_buffer_collected_without_free_is_freed_with_a_warning
    captured = StringIO.new
    stderr = $stderr
    $stderr = captured
    begin
      drop_buffers(200)
      20.times do
        GC.start(full_mark: true, immediate_sweep: true)
        break if captured.string.include?("garbage-collected without free")
        sleep 0.01
      end
    ensure
      $stderr = stderr
    end
    assert_match(/a Buffer of 4321 bytes was garbage-collected without free; freed now/, captured.string)
  end

  def test_a_collected_buffer_whose_address_was_handed_out_is_not_freed
    # ptr = Buffer.new(64).to_ptr; GC.start freed the block under ptr, and a
    # write through ptr then changed another live buffer.
    captured = StringIO.new
    stderr = $stderr
    $stderr = captured
    begin
      pointers = drop_handed_out_buffers(50)
      20.times do
        GC.start(full_mark: true, immediate_sweep: true)
        break if captured.string.include?("left allocated")
        sleep 0.01
      end
      others = Array.new(200) { |i| GraphbitAlloc::Buffer.from_string(i.chr * 1234) }
      pointers.each { |ptr| ptr[0, 1234] = "\xee".b * 1234 }
      others.each_with_index do |other, i|
        assert_equal i.chr * 1234, other.read, "a write through a handed-out pointer reached buffer #{i}"
        refute_includes pointers.map(&:to_i), other.address
        other.free
      end
    ensure
      $stderr = stderr
    end
    assert_match(/a Buffer of 1234 bytes was garbage-collected without free after its address was handed out; left allocated/,
                 captured.string)
    refute_match(/1234 bytes was garbage-collected without free; freed now/, captured.string)
  end

  def test_handed_out_is_set_by_address_and_to_ptr
    [:address, :to_ptr].each do |method|
      buf = GraphbitAlloc::Buffer.new(8)
      refute buf.handed_out?
      buf.read
      refute buf.handed_out?
      buf.public_send(method)
      assert buf.handed_out?
      buf.free
    end
  end

  def test_the_finalizer_frees_once
    buf = GraphbitAlloc::Buffer.new(10)
    state = buf.instance_variable_get(:@state)
    buf.free
    assert_silent { GraphbitAlloc::Buffer.finalizer(state).call } # already freed: nothing
  end

  private

  def drop_buffers(count)
    count.times { GraphbitAlloc::Buffer.new(4321).write("x") }
    nil
  end

  # Fiddle pointers to Buffers that are then dropped without free.
  def drop_handed_out_buffers(count)
    Array.new(count) { GraphbitAlloc::Buffer.new(1234).to_ptr }
  end
end

class ThreadsTest < Minitest::Test
  # Fiddle releases the GVL during its calls: the allocator really runs on
  # several threads at once.
  def test_threads_allocate_write_read_and_free_with_cross_thread_frees
    handoff = Thread::Queue.new
    freer = Thread.new do
      freed = 0
      while (buf = handoff.pop) != :done
        raise "handed-off buffer changed" unless buf.read(0, 1).ord == buf.size % 256
        buf.free
        freed += 1
      end
      freed
    end
    workers = (1..4).map do |seed|
      Thread.new do
        held = []
        2000.times do |i|
          size = (seed * 7919 + i * 104_729) % 20_000 + 1
          buf = GraphbitAlloc::Buffer.new(size, zeroed: i.even?)
          buf.write(seed.chr * [size, 8].min)
          held << buf
          if held.size > 50
            old = held.shift
            n = [old.size, 8].min
            raise "thread #{seed}: buffer changed" unless old.read(0, n) == seed.chr * n
            old.free
          end
          if (i % 10).zero?
            h = GraphbitAlloc::Buffer.new(size % 200 + 1)
            h.write((h.size % 256).chr)
            handoff << h
          end
        end
        held.each(&:free)
      end
    end
    workers.each(&:join)
    handoff << :done
    assert_equal 4 * 200, freer.value
    assert GraphbitAlloc.verify
  end

  def test_reads_racing_free_see_the_buffer_or_an_error
    # Few rounds: each waits for the readers' time slices to get the GVL back.
    10.times do
      buf = GraphbitAlloc::Buffer.new(4096)
      buf.write("\7" * 4096)
      readers = Array.new(2) do
        Thread.new do
          loop do
            raise "read freed memory" unless buf.read == "\7" * 4096
          rescue GraphbitAlloc::FreedBufferError
            break
          end
        end
      end
      Thread.pass
      buf.free
      readers.each(&:join)
    end
  end
end

class LoadingTest < Minitest::Test
  include Helpers

  def test_an_explicit_path_and_a_bad_one
    lib = GraphbitAlloc.load(ENV.fetch("GRAPHBIT_ALLOC_LIB"))
    assert_equal GraphbitAlloc.allocator_name, lib.allocator_name
    error = assert_raises(GraphbitAlloc::LibraryLoadError) { GraphbitAlloc.load("/nonexistent/libgraphbit_alloc_dlopen.so") }
    assert_includes error.message, "cannot load the library, tried /nonexistent/libgraphbit_alloc_dlopen.so (the path argument)"
  end

  def test_the_initial_exec_library_loads_or_its_error_is_explained
    path = ENV.fetch("GB_INITIAL_EXEC_LIB")
    assert File.exist?(path), "no initial-exec library at #{path}"
    begin
      lib = GraphbitAlloc.load(path)
    rescue GraphbitAlloc::LibraryLoadError => e
      assert_match(/static TLS/, e.message)
      assert_match(/load libgraphbit_alloc_dlopen.so instead/, e.message)
    else
      assert lib.verify # glibc had room for its TLS after all
    end
  end

  def test_the_environment_variable_wins_and_a_wrong_one_is_reported
    _out, err, status = ruby("require 'graphbit_alloc'; GraphbitAlloc.verify",
                             { "GRAPHBIT_ALLOC_LIB" => "/nonexistent/gb.so", "RUBYLIB" => File.join(BINDING, "lib") })
    refute status.success?
    assert_match(%r{cannot load the library, tried /nonexistent/gb.so \(\$GRAPHBIT_ALLOC_LIB\)}, err)
  end

  def test_a_library_next_to_the_ruby_files_is_found_and_none_is_reported
    Dir.mktmpdir("gb-ruby-") do |dir|
      FileUtils.cp_r(Dir[File.join(BINDING, "lib", "*")], dir)
      show = "require 'graphbit_alloc'; puts GraphbitAlloc.library.path, GraphbitAlloc.verify"
      env = { "RUBYLIB" => dir, "LD_LIBRARY_PATH" => "" }
      out, err, status = ruby(show, env)
      if status.success? # installed on the system's path: then that is what was found
        assert_match(/libgraphbit_alloc_dlopen/, out)
      else
        assert_match(/cannot load the library, tried .*the system library path/, err)
      end
      lib = File.join(dir, "libgraphbit_alloc_dlopen.so.0.1.0")
      FileUtils.cp(ENV.fetch("GRAPHBIT_ALLOC_LIB"), lib)
      out, err, status = ruby(show, env)
      assert status.success?, err
      assert_equal "#{lib}\ntrue\n", out
    end
  end
end

class ReadmeTest < Minitest::Test
  include Helpers

  EXAMPLE = "bindings/ruby/examples/quickstart.rb"

  def test_readme_snippets_are_the_example_word_for_word
    example = File.read(File.join(REPO, EXAMPLE))
    checked = 0
    [File.join(BINDING, "README.md"), File.join(REPO, "README.md")].each do |readme|
      File.read(readme).scan(/<!-- example: (\S+) -->\s*\n```[\w-]*\n(.*?)```/m) do |name, code|
        next unless name == EXAMPLE
        assert_equal example, code, "#{readme}: the snippet differs from #{EXAMPLE}"
        checked += 1
      end
    end
    assert_operator checked, :>=, 1, "no README snippet is marked <!-- example: #{EXAMPLE} -->"
  end

  def test_the_example_runs_and_prints_what_its_comments_say
    out, err, status = Open3.capture3({ "RUBYLIB" => File.join(BINDING, "lib") }, RbConfig.ruby, File.join(REPO, EXAMPLE))
    assert status.success?, err
    assert_equal "hello\n#{GraphbitAlloc.allocator_name} true true\n", out
  end
end
