import graphbit.alloc.Block;
import graphbit.alloc.GraphbitAlloc;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

public class QuickStart {
    public static void main(String[] args) {
        try (Block block = Block.allocateZeroed(4096)) {       // closed when the try ends
            ByteBuffer buffer = block.buffer();                  // a view: no copy; the memory goes
                                                                 // back once it is unreachable too
            buffer.put("hello".getBytes(StandardCharsets.US_ASCII));
            byte[] back = new byte[5];
            block.read(0, back, 0, 5);
            System.out.println(new String(back, StandardCharsets.US_ASCII));   // hello
        }
        System.out.println(GraphbitAlloc.allocatorName() + " " + GraphbitAlloc.verify()
                + " " + (GraphbitAlloc.stats().allocated() > 0));
    }
}
