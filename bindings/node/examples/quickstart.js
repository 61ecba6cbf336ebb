const gb = require('graphbit-alloc');

const block = new gb.Block(4096, { zeroed: true });
block.bytes().set(Buffer.from('hello'));   // a Uint8Array view: no copy
console.log(block.read(0, 5).toString());  // hello
block.free();                              // from here on, block.bytes() throws
console.log(gb.allocatorName(), gb.verify(), gb.stats().allocated > 0);
