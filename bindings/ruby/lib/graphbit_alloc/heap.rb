# frozen_string_literal: true

module GraphbitAlloc
  # A Buffer of a Heap that was destroyed, or a Heap used after #destroy.
  class HeapDestroyedError < FreedBufferError; end

  # gb_heap_stats: usable bytes (what the limit counts) and blocks.
  HeapStats = Struct.new(:limit_bytes, :allocated_bytes, :peak_allocated_bytes, :blocks, :refused,
                         keyword_init: true)

  # A gb_heap (docs/heaps.md): Buffers allocated in it (#buffer), capped at
  # limit usable bytes (0: no limit), all freed at once by #destroy or at the
  # end of the block form:
  #
  #   GraphbitAlloc::Heap.open(1 << 20) do |heap|
  #     buf = heap.buffer(4096)   # OutOfMemoryError past the limit
  #     buf.write("per request")
  #   end                         # every Buffer of the heap is freed
  #
  # Past the limit #buffer raises OutOfMemoryError; nothing changes and the
  # heap stays usable. A Buffer of the heap may be freed on its own. After
  # #destroy every Buffer of the heap is freed: its methods raise
  # HeapDestroyedError (a FreedBufferError), its #free does nothing, and its
  # address never reaches C again. An address or Fiddle::Pointer handed out
  # (#address, #to_ptr) is invalid after #destroy, as after #free. A second
  # #destroy does nothing; #buffer and #stats then raise HeapDestroyedError.
  #
  # Methods are safe to call from several threads: #destroy waits for the
  # copies in flight of the heap's Buffers. A Heap the garbage collector finds
  # without #destroy (each Buffer holds its Heap, so none of its Buffers is
  # reachable either) is destroyed then, with a warning; unless a Buffer of it
  # handed its address out, which keeps the heap allocated (a leak, warned
  # about), as a Buffer's own finalizer does.
  class Heap
    STATS_FIELDS = %i[limit_bytes allocated_bytes peak_allocated_bytes blocks refused].freeze
    STATS_SIZE = Fiddle::SIZEOF_SIZE_T + 8 * STATS_FIELDS.size
    SIZE_MAX = 2**(8 * Fiddle::SIZEOF_SIZE_T) - 1

    attr_reader :library

    # Heap.new(limit, ...), given to the block and destroyed when it exits
    # (the block's value is returned); without a block, the Heap.
    def self.open(limit = 0, **options)
      heap = new(limit, **options)
      return heap unless block_given?
      begin
        yield heap
      ensure
        heap.destroy
      end
    end

    # gb_heap_new(limit): TypeError for a limit that is not an Integer,
    # InvalidArgumentError (an ArgumentError) below 0 or above SIZE_MAX.
    def initialize(limit = 0, library: GraphbitAlloc.library)
      raise TypeError, "limit must be an Integer, not #{limit.inspect}" unless limit.is_a?(Integer)
      unless limit.between?(0, SIZE_MAX)
        raise InvalidArgumentError, "limit must be in 0..#{SIZE_MAX} (SIZE_MAX), not #{limit}"
      end
      @library = library
      handle = library.check(library.fn["gb_heap_new"].call(limit), "gb_heap_new(#{limit})")
      # What the finalizer and the Buffers share, and nothing that refers back
      # to self: the Buffers' states, [address, size, alignment, library,
      # freed, handed out, this core, the Buffer's lock].
      @core = { handle: handle, library: library, destroyed: false, lock: Thread::Mutex.new,
                states: [], prune_at: 64 }
      ObjectSpace.define_finalizer(self, self.class.finalizer(@core))
    end

    def self.finalizer(core)
      proc do
        next if core[:destroyed]
        if core[:states].any? { |state| state[5] && !state[4] }
          warn "graphbit_alloc: a Heap was garbage-collected without destroy after the address of one " \
               "of its Buffers was handed out; left allocated (call destroy when done with it)"
        else
          warn "graphbit_alloc: a Heap was garbage-collected without destroy; destroyed now"
          destroy_core(core)
        end
      end
    end

    # Marks every Buffer of the heap freed and destroys it; the caller holds
    # core[:lock] and the Buffers' locks (or nothing else can reach them).
    def self.destroy_core(core)
      core[:destroyed] = true
      core[:states].each { |state| state[4] = true }
      core[:states] = []
      core[:library].fn["gb_heap_destroy"].call(core[:handle])
    end

    # A Buffer of size bytes in this heap (zeroed:, alignment: as Buffer.new).
    def buffer(size, **options)
      Buffer.new(size, **options, heap: self)
    end

    # gb_heap_stats, a HeapStats.
    def stats
      raw = Fiddle::Pointer.malloc(STATS_SIZE, Fiddle::RUBY_FREE)
      raw[0, STATS_SIZE] = [STATS_SIZE].pack("J") + "\0" * (STATS_SIZE - Fiddle::SIZEOF_SIZE_T)
      code = @core[:lock].synchronize do
        live("stats")
        @library.fn["gb_heap_stats"].call(@core[:handle], raw)
      end
      raise SystemCallError.new("gb_heap_stats", code) unless code.zero?
      values = raw[Fiddle::SIZEOF_SIZE_T, 8 * STATS_FIELDS.size].unpack("Q*")
      HeapStats.new(**STATS_FIELDS.zip(values).to_h)
    end

    def destroyed? = @core[:destroyed]

    # gb_heap_destroy: frees every Buffer of the heap at once; waits for their
    # copies in flight. A second call does nothing.
    def destroy
      @core[:lock].synchronize do
        next if @core[:destroyed]
        locks = @core[:states].map { |state| state[7] }
        locks.each(&:lock)
        begin
          self.class.destroy_core(@core)
        ensure
          locks.each(&:unlock)
        end
      end
      ObjectSpace.undefine_finalizer(self)
      nil
    end

    def inspect = "#<#{self.class}#{destroyed? ? ' destroyed' : ''}>"

    private

    def live(what)
      raise HeapDestroyedError, "graphbit_alloc: #{what} on a Heap that was destroyed" if @core[:destroyed]
    end

    # Called by Buffer.new(heap: self): allocates and records the Buffer's
    # state, both under the heap's lock (so #destroy sees every Buffer).
    def allocate(size, zeroed, alignment, lock)
      fn = @library.fn
      @core[:lock].synchronize do
        live("buffer")
        handle = @core[:handle]
        address =
          if alignment
            @library.check(fn["gb_heap_aligned_alloc"].call(handle, alignment, size),
                           "gb_heap_aligned_alloc(#{alignment}, #{size})")
          elsif zeroed
            @library.check(fn["gb_heap_calloc"].call(handle, 1, size), "gb_heap_calloc(1, #{size})")
          else
            @library.check(fn["gb_heap_alloc"].call(handle, size), "gb_heap_alloc(#{size})")
          end
        Fiddle::Pointer.new(address, size)[0, size] = "\0" * size if alignment && zeroed && size.positive?
        state = [address, size, alignment, @library, false, false, @core, lock]
        prune
        @core[:states] << state
        state
      end
    end

    # Forgets the states of Buffers freed on their own (amortised: the list
    # at most doubles between two passes). Not while the Buffer's lock is
    # held: its #free marks it freed before its gb_free_sized returns, and
    # #destroy must wait for that call.
    def prune
      states = @core[:states]
      return if states.size < @core[:prune_at]
      states.reject! { |state| state[4] && !state[7].locked? }
      @core[:prune_at] = [64, 2 * states.size].max
    end
  end

  class Buffer
    # The Heap the Buffer is in, or nil.
    attr_reader :heap

    private

    def initialize_in_heap(heap, size, zeroed, alignment)
      raise TypeError, "heap must be a GraphbitAlloc::Heap, not #{heap.class}" unless heap.is_a?(Heap)
      if alignment && !(alignment.is_a?(Integer) && alignment.positive?)
        raise InvalidArgumentError, "alignment must be a positive Integer, not #{alignment.inspect}"
      end
      @lib = heap.library
      @heap = heap # a Heap lives while its Buffers do
      @size = size
      @alignment = alignment
      @lock = Thread::Mutex.new
      @state = heap.__send__(:allocate, size, zeroed, alignment, @lock)
      ObjectSpace.define_finalizer(self, self.class.finalizer(@state))
    end
  end
end
