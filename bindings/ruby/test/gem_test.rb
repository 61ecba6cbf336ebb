# frozen_string_literal: true

# The gem as a user installs it: `gem build` accepts the gemspec without a
# warning, `gem install --local` puts it in a GEM_HOME of its own, and a Ruby
# outside this repository requires it from there and allocates through
# $GRAPHBIT_ALLOC_LIB.
require "minitest/autorun"
require "open3"
require "rbconfig"
require "tmpdir"

class GemTest < Minitest::Test
  BINDING = File.expand_path("..", __dir__)

  def gem_command(*args, env: {}, chdir:)
    Open3.capture3(env, RbConfig.ruby, "-S", "gem", *args, chdir: chdir)
  end

  def test_gem_build_warns_nothing_and_the_installed_gem_works
    library = ENV.fetch("GRAPHBIT_ALLOC_LIB")
    Dir.mktmpdir("gb-gem-") do |work|
      # gem build reads the files the gemspec lists, relative to the gemspec.
      out, err, status = gem_command("build", File.join(BINDING, "graphbit_alloc.gemspec"),
                                     "--output", File.join(work, "graphbit_alloc.gem"), chdir: BINDING)
      assert status.success?, "gem build: #{out}#{err}"
      refute_match(/WARNING/, out + err, "gem build warned")
      home = File.join(work, "home")
      env = { "GEM_HOME" => home, "GEM_PATH" => home, "GRAPHBIT_ALLOC_LIB" => library, "RUBYLIB" => nil,
              "RUBYOPT" => nil }
      out, err, status = gem_command("install", "--local", "--no-document", File.join(work, "graphbit_alloc.gem"),
                                     env: env, chdir: work)
      assert status.success?, "gem install: #{out}#{err}"
      code = 'require "graphbit_alloc"; ' \
             'GraphbitAlloc::Buffer.open(16) { |b| b.write("gem"); print b.read(0, 3), " ", ' \
             '$LOADED_FEATURES.grep(/graphbit_alloc\.rb/).first }'
      out, err, status = Open3.capture3(env, RbConfig.ruby, "-e", code, chdir: work)
      assert status.success?, "require from the installed gem: #{out}#{err}"
      text, path = out.split(" ", 2)
      assert_equal "gem", text
      assert path.start_with?(File.join(home, "gems", "graphbit_alloc-0.1.0")), path
    end
  end
end
