package graphbit.alloc;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * For ProfileTest's child JVM, which preloads the profiling library: every
 * call succeeds, the dumps are gzip files, and the errors come as errno values.
 */
public final class ProfileProbe {
    private ProfileProbe() {}

    private static void expect(int errno, Runnable call) {
        try {
            call.run();
        } catch (ProfileException e) {
            if (e.errno() == errno) {
                return;
            }
            throw e;
        }
        throw new AssertionError("no errno " + errno);
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        Profile.start(4096);
        expect(16 /* EBUSY */, () -> Profile.start(0));
        long[] blocks = new long[1000];
        for (int i = 0; i < blocks.length; i++) {
            blocks[i] = com.sun.jna.Pointer.nativeValue(GraphbitAlloc.Gb.gb_alloc(1000));
        }
        Profile.dump(dir.resolve("heap.pb.gz").toString());
        Profile.dumpPeak(dir.resolve("heap.pb.gz.peak").toString());
        for (String name : new String[] {"heap.pb.gz", "heap.pb.gz.peak"}) {
            byte[] head = Files.readAllBytes(dir.resolve(name));
            if (head.length < 2 || head[0] != (byte) 0x1f || head[1] != (byte) 0x8b) {
                throw new AssertionError(name + " is not gzip");
            }
        }
        expect(2 /* ENOENT */, () -> Profile.dump(dir.resolve("no/such/dir").toString()));
        Profile.stop();
        expect(22 /* EINVAL */, Profile::stop);
        for (long block : blocks) {
            GraphbitAlloc.Gb.gb_free(new com.sun.jna.Pointer(block));
        }
        System.out.println("profile ok " + GraphbitAlloc.libraryPath());
    }
}
