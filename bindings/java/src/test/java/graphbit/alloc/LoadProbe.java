package graphbit.alloc;

/** For LibraryTest's child JVMs: prints where the library came from, and verify(). */
public final class LoadProbe {
    private LoadProbe() {}

    public static void main(String[] args) {
        System.out.println(GraphbitAlloc.libraryPath() + " " + GraphbitAlloc.verify());
    }
}
