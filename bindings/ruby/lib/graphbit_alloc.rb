# frozen_string_literal: true

require "fiddle"
require "json"

# graphbit-alloc from Ruby: the C API over Fiddle (the standard library; no
# compiler needed).
#
# The shared library is found, in this order, at: the path given to
# GraphbitAlloc.load(path) before first use, the GRAPHBIT_ALLOC_LIB
# environment variable, a libgraphbit_alloc_dlopen.so* next to this file, or
# the system's library path (dlopen's own search: LD_LIBRARY_PATH, the ld.so
# cache). Fiddle loads it with dlopen into the running interpreter, which is
# why it is the dlopen variant: the default libgraphbit_alloc.so uses
# initial-exec TLS, which a dlopen into a running program cannot have on
# jemalloc ("cannot allocate memory in static TLS block"); a path to it is
# still tried, and that error is explained.
#
#   GraphbitAlloc::Buffer.open(4096, zeroed: true) do |buf|   # freed at the end
#     buf.write("hello")
#     buf.read(0, 5)   # => "hello"
#   end
#
# Allocation failures raise GraphbitAlloc::OutOfMemoryError (a NoMemoryError,
# as Ruby's own failed allocations) for ENOMEM, and
# GraphbitAlloc::InvalidArgumentError (an ArgumentError) for EINVAL.
module GraphbitAlloc
  VERSION = "0.1.0"
  ENV_VAR = "GRAPHBIT_ALLOC_LIB"
  # Value of a gb_stats_t field the backend does not keep (UINT64_MAX).
  STAT_UNAVAILABLE = 2**64 - 1
  ENOMEM = 12
  EINVAL = 22

  # ENOMEM: the memory could not be had (also for sizes above PTRDIFF_MAX).
  class OutOfMemoryError < NoMemoryError; end
  # EINVAL: an alignment that is not a power of two, a negative size.
  class InvalidArgumentError < ArgumentError; end
  # A Buffer used after #free.
  class FreedBufferError < StandardError; end
  # The library could not be loaded; the message lists what was tried.
  class LibraryLoadError < LoadError; end

  # gb_stats in bytes; nil where the backend keeps no figure.
  Stats = Struct.new(:allocated, :active, :resident, :mapped, :retained, :peak_resident,
                     keyword_init: true)

  SIZE_T = Fiddle::TYPE_SIZE_T
  VOIDP = Fiddle::TYPE_VOIDP
  BOOL = Fiddle::TYPE_CHAR # C bool: one byte
  # Every function of include/graphbit_alloc.h: name => [arguments, result].
  # The tests check this against the header.
  SIGNATURES = {
    "gb_alloc" => [[SIZE_T], VOIDP],
    "gb_calloc" => [[SIZE_T, SIZE_T], VOIDP],
    "gb_realloc" => [[VOIDP, SIZE_T], VOIDP],
    "gb_aligned_alloc" => [[SIZE_T, SIZE_T], VOIDP],
    "gb_free" => [[VOIDP], Fiddle::TYPE_VOID],
    "gb_free_sized" => [[VOIDP, SIZE_T], Fiddle::TYPE_VOID],
    "gb_free_aligned_sized" => [[VOIDP, SIZE_T, SIZE_T], Fiddle::TYPE_VOID],
    "gb_usable_size" => [[VOIDP], SIZE_T],
    "gb_allocator_name" => [[], VOIDP],
    "gb_allocator_version" => [[], VOIDP],
    "gb_version" => [[], VOIDP],
    "gb_version_number" => [[], -Fiddle::TYPE_INT],
    "gb_verify" => [[], BOOL],
    "gb_verify_report" => [[VOIDP, SIZE_T], SIZE_T],
    "gb_stats" => [[VOIDP], Fiddle::TYPE_INT],
    "gb_trim" => [[], Fiddle::TYPE_INT],
    "gb_thread_idle" => [[], Fiddle::TYPE_INT],
    "gb_owns" => [[VOIDP], BOOL],
    "gb_backend_stats_text" => [[VOIDP, SIZE_T], SIZE_T],
    "gb_profile_start" => [[SIZE_T], Fiddle::TYPE_INT],
    "gb_profile_stop" => [[], Fiddle::TYPE_INT],
    "gb_profile_dump" => [[VOIDP], Fiddle::TYPE_INT],
    "gb_profile_dump_peak" => [[VOIDP], Fiddle::TYPE_INT],
    "gb_lua_alloc" => [[VOIDP, VOIDP, SIZE_T, SIZE_T], VOIDP],
    "gb_ctx_malloc" => [[VOIDP, SIZE_T], VOIDP],
    "gb_ctx_calloc" => [[VOIDP, SIZE_T, SIZE_T], VOIDP],
    "gb_ctx_realloc" => [[VOIDP, VOIDP, SIZE_T], VOIDP],
    "gb_ctx_free" => [[VOIDP, VOIDP], Fiddle::TYPE_VOID],
    "gb_ctx_free_sized" => [[VOIDP, VOIDP, SIZE_T], Fiddle::TYPE_VOID],
    "gb_heap_new" => [[SIZE_T], VOIDP],
    "gb_heap_alloc" => [[VOIDP, SIZE_T], VOIDP],
    "gb_heap_calloc" => [[VOIDP, SIZE_T, SIZE_T], VOIDP],
    "gb_heap_realloc" => [[VOIDP, VOIDP, SIZE_T], VOIDP],
    "gb_heap_aligned_alloc" => [[VOIDP, SIZE_T, SIZE_T], VOIDP],
    "gb_heap_destroy" => [[VOIDP], Fiddle::TYPE_VOID],
    "gb_heap_stats" => [[VOIDP, VOIDP], Fiddle::TYPE_INT],
  }.freeze

  STATS_FIELDS = %i[allocated active resident mapped retained peak_resident].freeze
  STATS_SIZE = Fiddle::SIZEOF_SIZE_T + 8 * STATS_FIELDS.size

  # The loaded shared library; lib.fn["gb_alloc"].call(...) and friends are its functions.
  class Library
    attr_reader :path, :fn

    # Where to look, in order: [[candidate, where it came from], ...].
    def self.candidates(path = nil)
      return [[path.to_s, "the path argument"]] if path
      env = ENV[ENV_VAR]
      return [[env, "$#{ENV_VAR}"]] if env && !env.empty?
      beside = Dir.glob(File.join(__dir__, "libgraphbit_alloc_dlopen.{so,dylib}*")).sort
      beside.map { |found| [found, "next to the library's Ruby files"] } +
        system_names.map { |name| [name, "the system library path"] }
    end

    def self.system_names
      case RbConfig::CONFIG["host_os"]
      when /darwin/ then %w[libgraphbit_alloc_dlopen.0.1.dylib libgraphbit_alloc_dlopen.dylib]
      when /mswin|mingw/ then %w[graphbit_alloc_dlopen.dll]
      else %w[libgraphbit_alloc_dlopen.so.0.1 libgraphbit_alloc_dlopen.so]
      end
    end

    # The loader's message, with what to do when it is the TLS limit.
    def self.explain(error)
      text = error.message
      if text.include?("static TLS")
        text += " (this is the initial-exec build, for programs that link it at start-up;" \
                " load libgraphbit_alloc_dlopen.so instead)"
      end
      text
    end

    def initialize(path = nil)
      tried = []
      self.class.candidates(path).each do |candidate, origin|
        @handle = Fiddle.dlopen(candidate)
        @path = candidate
        break
      rescue Fiddle::DLError => e
        tried << "#{candidate} (#{origin}): #{self.class.explain(e)}"
      end
      unless @handle
        where = tried.empty? ? "nothing: pass a path, set #{ENV_VAR}, or install libgraphbit_alloc_dlopen" : tried.join("; ")
        raise LibraryLoadError, "graphbit_alloc: cannot load the library, tried #{where}"
      end
      # Each function is declared on first use, so that a library older than
      # this binding still serves the functions it has.
      handle = @handle
      @fn = Hash.new do |declared, name|
        args, result = SIGNATURES.fetch(name)
        declared[name] = Fiddle::Function.new(handle[name], args, result, name: name)
      end
      @fn["gb_version"] # a library without even this is no graphbit-alloc
    end

    # The address (Integer) of a successful allocation, or the error its errno means.
    def check(pointer, what)
      address = pointer.to_i
      return address unless address.zero?
      code = Fiddle.last_error
      raise InvalidArgumentError, "#{what}: invalid argument (EINVAL)" if code == EINVAL
      raise OutOfMemoryError, "#{what}: out of memory (#{code == ENOMEM ? 'ENOMEM' : "errno #{code}"})"
    end

    def allocator_name = fn["gb_allocator_name"].call.to_s
    def allocator_version = fn["gb_allocator_version"].call.to_s
    def version = fn["gb_version"].call.to_s
    def version_number = fn["gb_version_number"].call
    def verify = !fn["gb_verify"].call.zero?

    # gb_verify_report, parsed from JSON.
    def verify_report = JSON.parse(text(fn["gb_verify_report"]))

    # gb_backend_stats_text: the backend's own statistics report.
    def backend_stats_text = text(fn["gb_backend_stats_text"])

    def stats
      raw = Fiddle::Pointer.malloc(STATS_SIZE, Fiddle::RUBY_FREE)
      raw[0, STATS_SIZE] = [STATS_SIZE].pack("J") + "\0" * (STATS_SIZE - Fiddle::SIZEOF_SIZE_T)
      code = fn["gb_stats"].call(raw)
      raise SystemCallError.new("gb_stats", code) unless code.zero?
      values = raw[Fiddle::SIZEOF_SIZE_T, 8 * STATS_FIELDS.size].unpack("Q*")
      Stats.new(**STATS_FIELDS.zip(values).to_h { |k, v| [k, v == STAT_UNAVAILABLE ? nil : v] })
    end

    # gb_trim: gives unused memory back to the OS now (slow).
    def trim
      code = fn["gb_trim"].call
      raise SystemCallError.new("gb_trim", code) unless code.zero?
      nil
    end

    # gb_thread_idle: the calling thread is going idle; its cached blocks go
    # back to the shared heap (a hint; cheap).
    def thread_idle
      code = fn["gb_thread_idle"].call
      raise SystemCallError.new("gb_thread_idle", code) unless code.zero?
      nil
    end

    # gb_owns for a Buffer, an address (Integer), a Fiddle::Pointer or nil.
    def owns?(what)
      address = what.is_a?(Buffer) ? what.address : what.to_i
      !fn["gb_owns"].call(address).zero?
    end

    private

    # snprintf-style: ask for the length, then fill; again if it grew.
    def text(function)
      loop do
        needed = function.call(nil, 0)
        buf = Fiddle::Pointer.malloc(needed + 1, Fiddle::RUBY_FREE)
        got = function.call(buf, needed + 1)
        return buf[0, got].force_encoding(Encoding::UTF_8) if got <= needed
      end
    end
  end

  # A block of graphbit-alloc memory: #write and #read copy Strings in and out;
  # #free gives it back (sized), after which every method raises
  # FreedBufferError. Buffer.open(size) { |buf| ... } frees when the block
  # exits, however it exits. Methods are safe to call from several threads (a
  # copy in flight finishes before #free). A Buffer the garbage collector finds
  # without #free is freed then, with a warning; unless #address or #to_ptr
  # handed its memory out, which the collector cannot follow: that block is
  # left allocated (a leak, warned about) rather than freed under a pointer
  # that may still be in use.
  class Buffer
    attr_reader :size, :alignment

    # Allocates size bytes (uninitialised unless zeroed:); alignment: a power
    # of two makes the address a multiple of it; heap: a Heap to allocate in
    # (as Heap#buffer does).
    def initialize(size, zeroed: false, alignment: nil, library: nil, heap: nil)
      raise InvalidArgumentError, "size must be an Integer >= 0, not #{size.inspect}" unless size.is_a?(Integer) && size >= 0
      if heap
        initialize_in_heap(heap, size, zeroed, alignment)
        return
      end
      library ||= GraphbitAlloc.library
      @lib = library
      fn = library.fn
      if alignment
        raise InvalidArgumentError, "alignment must be a positive Integer, not #{alignment.inspect}" unless alignment.is_a?(Integer) && alignment.positive?
        address = library.check(fn["gb_aligned_alloc"].call(alignment, size), "gb_aligned_alloc(#{alignment}, #{size})")
        Fiddle::Pointer.new(address, size)[0, size] = "\0" * size if zeroed && size.positive?
      elsif zeroed
        address = library.check(fn["gb_calloc"].call(1, size), "gb_calloc(1, #{size})")
      else
        address = library.check(fn["gb_alloc"].call(size), "gb_alloc(#{size})")
      end
      @size = size
      @alignment = alignment
      @lock = Thread::Mutex.new
      # What the finalizer needs, and nothing that refers back to self:
      # address, size, alignment, library, freed, handed out.
      @state = [address, size, alignment, library, false, false]
      ObjectSpace.define_finalizer(self, self.class.finalizer(@state))
    end

    # Buffer.new(size, ...), given to the block and freed when it exits (the
    # block's value is returned); without a block, the Buffer.
    def self.open(size, **options)
      buffer = new(size, **options)
      return buffer unless block_given?
      begin
        yield buffer
      ensure
        buffer.free
      end
    end

    # A new Buffer holding a copy of string's bytes.
    def self.from_string(string, **options)
      buffer = new(string.bytesize, **options)
      buffer.write(string)
      buffer
    end

    def self.finalizer(state)
      proc do
        next if state[4]
        next if state[6] # a heap's: freed with the heap, which lives while its Buffers do
        state[4] = true
        if state[5]
          warn "graphbit_alloc: a Buffer of #{state[1]} bytes was garbage-collected without free " \
               "after its address was handed out; left allocated (call free when done with it)"
        else
          warn "graphbit_alloc: a Buffer of #{state[1]} bytes was garbage-collected without free; freed now"
          release(state)
        end
      end
    end

    def self.release(state)
      address, size, alignment, lib = state
      if alignment
        lib.fn["gb_free_aligned_sized"].call(address, alignment, size)
      else
        lib.fn["gb_free_sized"].call(address, size)
      end
    end

    alias length size
    alias bytesize size

    def freed? = @state[4]

    # The block's address (Integer), to pass to C; invalid after #free. The
    # garbage collector no longer frees a Buffer whose address was taken.
    def address
      @lock.synchronize { handed_out("address") }
    end

    # A Fiddle::Pointer to the block, so a Buffer can be an argument of a
    # Fiddle function; like the address, invalid after #free, and like it,
    # keeps the garbage collector from freeing the block.
    def to_ptr
      @lock.synchronize { Fiddle::Pointer.new(handed_out("to_ptr"), @size) }
    end

    # True once #address or #to_ptr handed the memory out.
    def handed_out? = @state[5]

    # How many bytes the block really has (at least #size).
    def usable_size
      @lock.synchronize { @lib.fn["gb_usable_size"].call(live("usable_size")) }
    end

    # A binary String copy of length bytes from offset (by default, all the rest).
    def read(offset = 0, length = nil)
      @lock.synchronize do
        address = live("read")
        length ||= @size - offset
        check_range(offset, length)
        next String.new(encoding: Encoding::BINARY) if length.zero?
        Fiddle::Pointer.new(address, @size)[offset, length]
      end
    end

    # Copies string's bytes into the block at offset; returns how many.
    def write(string, offset = 0)
      bytes = string.to_str.b
      @lock.synchronize do
        address = live("write")
        check_range(offset, bytes.bytesize)
        Fiddle::Pointer.new(address, @size)[offset, bytes.bytesize] = bytes unless bytes.empty?
      end
      bytes.bytesize
    end

    # The whole block, copied into a binary String.
    def to_s = read

    # Gives the block back; a second call does nothing, and so does a call on
    # a Buffer whose Heap was destroyed.
    def free
      @lock.synchronize do
        next if @state[4]
        @state[4] = true
        self.class.release(@state)
      end
      ObjectSpace.undefine_finalizer(self)
      nil
    end

    def inspect
      "#<#{self.class} size=#{@size}#{@alignment ? " alignment=#{@alignment}" : ''}#{freed? ? ' freed' : ''}>"
    end

    private

    def handed_out(what)
      address = live(what)
      @state[5] = true
      address
    end

    def live(what)
      if @state[4]
        if @state[6]&.fetch(:destroyed)
          raise HeapDestroyedError, "graphbit_alloc: #{what} on a Buffer (#{@size} bytes) whose Heap was destroyed"
        end
        raise FreedBufferError, "graphbit_alloc: #{what} on a Buffer that was freed (#{@size} bytes)"
      end
      @state[0]
    end

    def check_range(offset, length)
      return if offset.is_a?(Integer) && length.is_a?(Integer) && offset >= 0 && length >= 0 && offset + length <= @size
      raise IndexError, "bytes #{offset}...#{offset.to_i + length.to_i} are outside the buffer (size #{@size})"
    end
  end

  require_relative "graphbit_alloc/heap"

  @library = nil
  @library_lock = Thread::Mutex.new

  class << self
    # Loads the library (see the module comment for where it looks); with a
    # path, always that one.
    def load(path = nil)
      return Library.new(path) if path
      library
    end

    # The library the module functions use, loaded on first call.
    def library
      @library_lock.synchronize { @library ||= Library.new }
    end

    # Buffer.open(size, **options) { |buf| ... }.
    def buffer(size, **options, &block) = Buffer.open(size, **options, &block)

    def allocator_name = library.allocator_name
    def allocator_version = library.allocator_version
    def version = library.version
    def version_number = library.version_number
    def verify = library.verify
    def verify_report = library.verify_report
    def backend_stats_text = library.backend_stats_text
    def stats = library.stats
    def trim = library.trim
    def thread_idle = library.thread_idle
    def owns?(what) = library.owns?(what)
  end
end

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
