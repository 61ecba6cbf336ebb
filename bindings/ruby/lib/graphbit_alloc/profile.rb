# frozen_string_literal: true

# Heap profiles (gb_profile_start/stop/dump/dump_peak): thin wrappers that
# raise the errno as a SystemCallError (Errno::ENOTSUP from a library built
# without profiling: only libgraphbit_alloc_profiling and the profiling
# override sample).
module GraphbitAlloc
  class Library
    # gb_profile_start: one sample every sample_bytes bytes on average
    # (0: 512 KiB).
    def profile_start(sample_bytes = 0)
      raise ArgumentError, "sample_bytes must be an Integer >= 0" unless sample_bytes.is_a?(Integer) && sample_bytes >= 0

      profile_call("gb_profile_start", sample_bytes)
    end

    # gb_profile_stop: the samples taken stay for profile_dump.
    def profile_stop = profile_call("gb_profile_stop")

    # gb_profile_dump (gb_profile_dump_peak with peak: true): the live heap
    # (or the heap at its peak) as a gzipped pprof file at path.
    def profile_dump(path, peak: false)
      path = path.to_path if path.respond_to?(:to_path)
      path = String(path)
      raise ArgumentError, "path contains a NUL byte" if path.include?("\0")

      c_path = "#{path}\0"
      profile_call(peak ? "gb_profile_dump_peak" : "gb_profile_dump", c_path)
    end

    private

    def profile_call(name, *args)
      code = fn[name].call(*args)
      raise SystemCallError.new(name, code) unless code.zero?

      nil
    end
  end

  class << self
    def profile_start(sample_bytes = 0) = library.profile_start(sample_bytes)
    def profile_stop = library.profile_stop
    def profile_dump(path, peak: false) = library.profile_dump(path, peak: peak)
  end
end
