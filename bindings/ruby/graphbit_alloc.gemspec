# frozen_string_literal: true

Gem::Specification.new do |spec|
  spec.name = "graphbit_alloc"
  spec.version = "0.1.0"
  spec.summary = "graphbit-alloc from Ruby: blocks of a fast allocator (jemalloc on Linux) over Fiddle"
  spec.description = "Buffers of graphbit-alloc's memory with free and a block form, String copies in " \
                     "and out, and the library's stats, verify and trim, through Fiddle (no compiler)."
  spec.authors = ["graphbit-alloc developers"]
  spec.license = "MIT OR Apache-2.0"
  spec.files = ["lib/graphbit_alloc.rb", "README.md"]
  spec.require_paths = ["lib"]
  spec.required_ruby_version = ">= 3.0"
  spec.add_dependency "fiddle"
end
