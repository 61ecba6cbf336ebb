package graphbit.alloc;

/** A {@code gb_profile_*} call failed: {@link #errno()} is the errno value it returned. */
public final class ProfileException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** ENOTSUP on Linux: the library was built without profiling. */
    public static final int ENOTSUP = 95;

    private final int errno;

    ProfileException(String function, int errno) {
        super(function + " failed (errno " + errno + (errno == ENOTSUP
                ? ", ENOTSUP: this library is built without profiling; load libgraphbit_alloc_profiling)"
                : ")"));
        this.errno = errno;
    }

    /** The errno value the call returned. */
    public int errno() {
        return errno;
    }
}
