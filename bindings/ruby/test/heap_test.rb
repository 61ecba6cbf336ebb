# frozen_string_literal: true

# GraphbitAlloc::Heap (lib/graphbit_alloc/heap.rb) against the real library:
# the limit, destroy and what it does to the heap's Buffers (no call into C
# with a dead Buffer's address: checked by recording the library's calls),
# threads racing destroy, the finalizers.
require "minitest/autorun"
require "stringio"
require "graphbit_alloc"

class HeapTest < Minitest::Test
  MIB = 1 << 20

  # A Library of its own whose function calls are recorded: [[name, *args]].
  def spied_library
    lib = GraphbitAlloc::Library.new(ENV.fetch("GRAPHBIT_ALLOC_LIB"))
    calls = Thread::Queue.new
    real = lib.fn
    lib.instance_variable_set(:@fn, Hash.new { |cache, name| cache[name] = Spy.new(name, real[name], calls) })
    [lib, calls]
  end

  # A Fiddle::Function stand-in that records its calls.
  Spy = Struct.new(:name, :function, :calls) do
    def call(*args)
      calls << [name, *args]
      function.call(*args)
    end
  end

  def names(calls)
    list = []
    list << calls.pop until calls.empty?
    list.map(&:first)
  end

  def test_the_limit_refuses_changes_nothing_and_the_heap_stays_usable
    GraphbitAlloc::Heap.open(64 * 1024) do |heap|
      kept = []
      error = nil
      1000.times do
        kept << heap.buffer(4000)
      rescue GraphbitAlloc::OutOfMemoryError => e
        error = e
        break
      end
      assert_kind_of NoMemoryError, error
      assert_match(/ENOMEM/, error.message)
      at = heap.stats
      assert_equal 64 * 1024, at.limit_bytes
      assert_operator at.allocated_bytes, :<=, 64 * 1024
      assert_equal kept.sum(&:usable_size), at.allocated_bytes
      assert_equal kept.size, at.blocks
      assert_equal 1, at.refused
      assert_raises(GraphbitAlloc::OutOfMemoryError) { heap.buffer(MIB, zeroed: true) }
      assert_raises(GraphbitAlloc::OutOfMemoryError) { heap.buffer(MIB, alignment: 4096) }
      assert_equal at.allocated_bytes, heap.stats.allocated_bytes, "a refusal changes nothing"
      assert_equal 3, heap.stats.refused
      kept.pop.free
      again = heap.buffer(4000)
      again.write("usable")
      assert_equal "usable", again.read(0, 6)
    end
  end

  def test_destroy_frees_every_buffer_none_reaches_c_and_a_second_destroy_does_nothing
    lib, calls = spied_library
    heap = GraphbitAlloc::Heap.new(0, library: lib)
    plain = heap.buffer(100)
    zero = heap.buffer(5000, zeroed: true)
    aligned = heap.buffer(1000, alignment: 4096, zeroed: true)
    assert_same heap, plain.heap
    assert_equal 0, aligned.address % 4096
    assert_equal "\0" * 5000, zero.read
    assert_equal "\0" * 1000, aligned.read
    early = heap.buffer(64)
    early.free # on its own, before destroy
    assert_equal 3, heap.stats.blocks
    names(calls)
    heap.destroy
    assert heap.destroyed?
    [plain, zero, aligned].each do |buf|
      assert buf.freed?
      [-> { buf.read }, -> { buf.write("x") }, -> { buf.address }, -> { buf.to_ptr }, -> { buf.usable_size }].each do |use|
        error = assert_raises(GraphbitAlloc::HeapDestroyedError) { use.call }
        assert_kind_of GraphbitAlloc::FreedBufferError, error
        assert_match(/Heap was destroyed/, error.message)
      end
      buf.free # does nothing
      GraphbitAlloc::Buffer.finalizer(buf.instance_variable_get(:@state)).call # nothing either
    end
    heap.destroy # does nothing
    assert_raises(GraphbitAlloc::HeapDestroyedError) { heap.buffer(8) }
    assert_raises(GraphbitAlloc::HeapDestroyedError) { heap.stats }
    assert_equal ["gb_heap_destroy"], names(calls), "after destroy, nothing but gb_heap_destroy, once"
  end

  def test_bad_limits_and_sizes_are_rubys_errors
    assert_raises(TypeError) { GraphbitAlloc::Heap.new("1") }
    assert_raises(TypeError) { GraphbitAlloc::Heap.new(1.5) }
    assert_raises(TypeError) { GraphbitAlloc::Heap.new(nil) }
    assert_raises(ArgumentError) { GraphbitAlloc::Heap.new(-1) }
    assert_raises(ArgumentError) { GraphbitAlloc::Heap.new(2**64) }
    GraphbitAlloc::Heap.open(2**64 - 1) do |heap| # SIZE_MAX: fits, as good as none
      assert_raises(ArgumentError) { heap.buffer(-1) }
      assert_raises(ArgumentError) { heap.buffer("8") }
      assert_raises(ArgumentError) { heap.buffer(8, alignment: 0) }
      assert_raises(GraphbitAlloc::InvalidArgumentError) { heap.buffer(8, alignment: 3) }
      assert_raises(GraphbitAlloc::OutOfMemoryError) { heap.buffer(2**62) }
      assert_raises(TypeError) { GraphbitAlloc::Buffer.new(8, heap: Object.new) }
      assert_equal 0, heap.stats.blocks
    end
  end

  def test_the_block_form_destroys_on_return_and_on_raise
    kept = nil
    assert_equal 42, GraphbitAlloc::Heap.open { |heap| kept = heap; 42 }
    assert kept.destroyed?
    assert_raises(RuntimeError) { GraphbitAlloc::Heap.open { |heap| kept = heap; raise "boom" } }
    assert kept.destroyed?
    assert_kind_of GraphbitAlloc::Heap, (heap = GraphbitAlloc::Heap.open(0))
    refute heap.destroyed?
    heap.destroy
  end

  def test_threads_allocate_copy_and_free_while_the_heap_is_destroyed
    10.times do |round|
      heap = GraphbitAlloc::Heap.new
      workers = (1..4).map do |seed|
        Thread.new do
          held = []
          300.times do |i|
            buf = heap.buffer(16 + (seed * 131 + i * 17) % 4000)
            held << buf
            buf.write([seed, i % 256].pack("CC"))
            raise "thread #{seed}: buffer changed" unless buf.read(0, 2) == [seed, i % 256].pack("CC")
            held.shift.free if (i % 3).zero?
          rescue GraphbitAlloc::HeapDestroyedError
            break
          end
          held.each(&:free)
          :ok
        end
      end
      sleep(0.001 * (round % 4))
      heap.destroy
      assert_equal [:ok] * 4, workers.map(&:value)
    end
  end

  def test_a_heap_collected_without_destroy_is_destroyed_with_a_warning
    captured = StringIO.new
    stderr = $stderr
    $stderr = captured
    begin
      drop_heaps
      20.times do
        GC.start(full_mark: true, immediate_sweep: true)
        break if captured.string.include?("destroyed now") && captured.string.include?("left allocated")
        sleep 0.01
      end
    ensure
      $stderr = stderr
    end
    assert_match(/a Heap was garbage-collected without destroy; destroyed now/, captured.string)
    assert_match(/a Heap was garbage-collected without destroy after the address .* left allocated/, captured.string)
    refute_match(/a Buffer of 777 bytes was garbage-collected/, captured.string, "heap buffers go with their heap")
  end

  private

  def drop_heaps
    3.times do
      GraphbitAlloc::Heap.new.buffer(777).write("x")
      GraphbitAlloc::Heap.new.buffer(777).to_ptr
    end
    nil
  end
end
