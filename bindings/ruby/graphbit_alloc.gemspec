# frozen_string_literal: true

Gem::Specification.new do |spec|
  spec.name = "graphbit_alloc"
  spec.version = "0.1.0"
  spec.summary = "graphbit-alloc from Ruby: blocks of a fast allocator (jemalloc on Linux) over Fiddle"
  spec.description = "Buffers of graphbit-alloc's memory with free and a block form, String copies in " \
                     "and out, and the library's stats, verify and trim, through Fiddle (no compiler)."
  spec.authors = ["graphbit-alloc developers"]
  spec.licenses = ["MIT", "Apache-2.0"] # either, at the user's choice
  spec.homepage = "https://github.com/graphbit/graphbit-alloc"
  spec.metadata = {
    "source_code_uri" => "https://github.com/graphbit/graphbit-alloc/tree/main/bindings/ruby",
    "documentation_uri" => "https://github.com/graphbit/graphbit-alloc/blob/main/bindings/ruby/README.md",
    "rubygems_mfa_required" => "true"
  }
  spec.files = ["lib/graphbit_alloc.rb", "README.md"]
  spec.require_paths = ["lib"]
  spec.required_ruby_version = ">= 3.0"
  # Fiddle 1.0 (Ruby 2.7's) has Fiddle::Pointer with a free function; 2.x may change it.
  spec.add_dependency "fiddle", "~> 1.0"
end
