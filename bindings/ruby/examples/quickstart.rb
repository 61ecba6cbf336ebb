require "graphbit_alloc"

GraphbitAlloc::Buffer.open(4096, zeroed: true) do |buf|   # freed when the block exits
  buf.write("hello")                                       # copies the String in
  puts buf.read(0, 5)                                      # hello (a copy out)
end
puts [GraphbitAlloc.allocator_name, GraphbitAlloc.verify, GraphbitAlloc.stats.allocated > 0].join(" ")
