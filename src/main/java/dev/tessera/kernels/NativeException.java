package dev.tessera.kernels;

/** A libtessera call returned a non-zero status; carries the status code and the library's message. */
public class NativeException extends IllegalArgumentException {
    public static final int INVALID_ARG = 1, BUDGET = 2, TOKEN_RANGE = 3, LABEL_RANGE = 4, NONFINITE = 5, OOM = 6,
            NO_BACKEND = 7, STATE = 8, DEVICE = 9, INTERNAL = 10, DIST = 11;

    private final int status;
    private final String statusName;

    public NativeException(int status, String statusName, String message) {
        super(statusName + ": " + message);
        this.status = status;
        this.statusName = statusName;
    }

    /** The TSR_ERR_* code (see cuda-ext/include/tessera.h). */
    public int status() { return status; }

    /** e.g. {@code TSR_ERR_BUDGET}. */
    public String statusName() { return statusName; }
}
