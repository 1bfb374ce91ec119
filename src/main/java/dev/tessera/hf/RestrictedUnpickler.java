package dev.tessera.hf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A pickle reader that executes nothing: it knows only the opcodes {@code torch.save} emits (protocol 2, plus the
 * few protocol 3/4 framing opcodes) and only the globals a state dict uses. Every other global is refused, so a
 * hostile checkpoint cannot run code. Tuples become immutable {@link List}s, dicts {@link LinkedHashMap}s, ints
 * {@link Long}s; tensors become {@link TensorRef}s pointing at {@link StorageRef}s (torch's persistent ids).
 */
final class RestrictedUnpickler {

    /** A global the pickle names; only the ones in {@link #ALLOWED} are ever created. */
    record Global(String module, String name) {
        String qualified() { return module + "." + name; }
    }

    /** torch's persistent id {@code ('storage', torch.FloatStorage, key, location, numel)}. */
    record StorageRef(Dtype dtype, String key, long numel) {}

    /** {@code torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)}. */
    record TensorRef(StorageRef storage, long offset, int[] size, long[] stride) {}

    static final Map<String, Dtype> STORAGES = Map.ofEntries(
            Map.entry("FloatStorage", Dtype.F32), Map.entry("HalfStorage", Dtype.F16),
            Map.entry("BFloat16Storage", Dtype.BF16), Map.entry("DoubleStorage", Dtype.F64),
            Map.entry("LongStorage", Dtype.I64), Map.entry("IntStorage", Dtype.I32),
            Map.entry("ShortStorage", Dtype.I16), Map.entry("CharStorage", Dtype.I8),
            Map.entry("ByteStorage", Dtype.U8), Map.entry("BoolStorage", Dtype.BOOL));

    private static final Set<String> ALLOWED = Set.of(
            "collections.OrderedDict",
            "torch._utils._rebuild_tensor_v2",
            "torch._utils._rebuild_parameter",
            "torch._utils._rebuild_parameter_with_state");

    private static final Object MARK = new Object();

    private final ByteBuffer in;
    private final String source;
    private final List<Object> stack = new ArrayList<>();
    private final Map<Long, Object> memo = new HashMap<>();

    private RestrictedUnpickler(byte[] data, String source) {
        this.in = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        this.source = source;
    }

    static Object load(byte[] data, String source) {
        try {
            return new RestrictedUnpickler(data, source).run();
        } catch (java.nio.BufferUnderflowException | IndexOutOfBoundsException e) {
            throw new CheckpointFormatException(source + ": truncated or corrupt pickle");
        }
    }

    private Object run() {
        while (true) {
            int op = in.get() & 0xff;
            switch (op) {
                case 0x80 -> { // PROTO
                    int v = in.get() & 0xff;
                    if (v > 5) throw bad("pickle protocol " + v + " is not supported");
                }
                case 0x95 -> in.getLong(); // FRAME: framing is only a hint
                case '.' -> { // STOP
                    if (stack.size() != 1) throw bad("pickle ends with " + stack.size() + " values on the stack");
                    return stack.getFirst();
                }
                case '(' -> stack.add(MARK);
                case '}' -> stack.add(new LinkedHashMap<>());
                case ']' -> stack.add(new ArrayList<>());
                case ')' -> stack.add(List.of());
                case 'N' -> stack.add(null); // List.of cannot hold null, so tuples are built with ArrayList
                case 0x88 -> stack.add(Boolean.TRUE);
                case 0x89 -> stack.add(Boolean.FALSE);
                case 'K' -> stack.add((long) (in.get() & 0xff));
                case 'M' -> stack.add((long) (in.getShort() & 0xffff));
                case 'J' -> stack.add((long) in.getInt());
                case 0x8a -> stack.add(long1(in.get() & 0xff));
                case 'G' -> stack.add(Double.longBitsToDouble(Long.reverseBytes(in.getLong()))); // BINFLOAT is big-endian
                case 'X' -> stack.add(string(len32(), StandardCharsets.UTF_8)); // BINUNICODE
                case 0x8c -> stack.add(string(in.get() & 0xff, StandardCharsets.UTF_8)); // SHORT_BINUNICODE
                case 'T' -> stack.add(string(len32(), StandardCharsets.ISO_8859_1)); // BINSTRING
                case 'U' -> stack.add(string(in.get() & 0xff, StandardCharsets.ISO_8859_1)); // SHORT_BINSTRING
                case 'B' -> stack.add(bytes(len32())); // BINBYTES
                case 'C' -> stack.add(bytes(in.get() & 0xff)); // SHORT_BINBYTES
                case 'q' -> memo.put((long) (in.get() & 0xff), peek()); // BINPUT
                case 'r' -> memo.put(in.getInt() & 0xffffffffL, peek()); // LONG_BINPUT
                case 0x94 -> memo.put((long) memo.size(), peek()); // MEMOIZE
                case 'h' -> stack.add(memoGet(in.get() & 0xff)); // BINGET
                case 'j' -> stack.add(memoGet(in.getInt() & 0xffffffffL)); // LONG_BINGET
                case '0' -> pop(); // POP
                case '1' -> popMark(); // POP_MARK
                case 't' -> stack.add(tuple(popMark()));
                case 0x85 -> stack.add(tuple(List.of(box(pop()))));
                case 0x86 -> { Object b = pop(), a = pop(); stack.add(tuple(List.of(box(a), box(b)))); }
                case 0x87 -> { Object c = pop(), b = pop(), a = pop(); stack.add(tuple(List.of(box(a), box(b), box(c)))); }
                case 'a' -> { Object v = pop(); list(peek()).add(v); } // APPEND
                case 'e' -> { List<Object> items = popMark(); list(peek()).addAll(items); } // APPENDS
                case 's' -> { Object v = pop(), k = pop(); dict(peek()).put(k, v); } // SETITEM
                case 'u' -> { // SETITEMS
                    List<Object> items = popMark();
                    Map<Object, Object> d = dict(peek());
                    for (int i = 0; i + 1 < items.size(); i += 2) d.put(items.get(i), items.get(i + 1));
                }
                case 'c' -> stack.add(global(line(), line())); // GLOBAL
                case 0x93 -> { Object name = pop(), module = pop(); stack.add(global(str(module), str(name))); } // STACK_GLOBAL
                case 'Q' -> stack.add(persistentLoad(pop())); // BINPERSID
                case 'R' -> { Object args = pop(), fn = pop(); stack.add(reduce(fn, args)); } // REDUCE
                case 'b' -> pop(); // BUILD: only OrderedDict's _metadata reaches here; state is dropped, nothing runs
                default -> throw bad(String.format("unsupported pickle opcode 0x%02x at byte %d (not a torch.save state dict?)",
                        op, in.position() - 1));
            }
        }
    }

    private Object global(String module, String name) {
        Global g = new Global(module, name);
        if (ALLOWED.contains(g.qualified())) return g;
        if (module.equals("torch") && STORAGES.containsKey(name)) return g;
        throw bad("unsupported pickle global " + g.qualified() + " (refusing to execute code)");
    }

    private Object reduce(Object fn, Object args) {
        if (!(fn instanceof Global g)) throw bad("REDUCE on a non-callable " + describe(fn));
        List<?> a = args instanceof List<?> l ? l : List.of();
        switch (g.qualified()) {
            case "collections.OrderedDict" -> {
                if (!a.isEmpty()) throw bad("OrderedDict with constructor arguments is not supported");
                return new LinkedHashMap<>();
            }
            case "torch._utils._rebuild_tensor_v2" -> {
                if (a.size() < 4 || !(a.get(0) instanceof StorageRef s)) throw bad("unexpected _rebuild_tensor_v2 arguments");
                List<?> size = (List<?>) a.get(2), stride = (List<?>) a.get(3);
                if (size.size() != stride.size()) throw bad("tensor size " + size + " and stride " + stride + " differ in rank");
                int[] sz = new int[size.size()];
                long[] st = new long[stride.size()];
                for (int i = 0; i < sz.length; i++) {
                    long d = num(size.get(i));
                    if (d < 0 || d > Integer.MAX_VALUE) throw bad("bad tensor size " + size);
                    sz[i] = (int) d;
                    st[i] = num(stride.get(i));
                }
                return new TensorRef(s, num(a.get(1)), sz, st);
            }
            case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state" -> {
                if (a.isEmpty() || !(a.get(0) instanceof TensorRef t)) throw bad("unexpected _rebuild_parameter arguments");
                return t;
            }
            default -> throw bad("pickle global " + g.qualified() + " cannot be called");
        }
    }

    private Object persistentLoad(Object pid) {
        if (!(pid instanceof List<?> t) || t.size() < 5 || !"storage".equals(t.get(0))
                || !(t.get(1) instanceof Global g) || !(t.get(2) instanceof String key)) {
            throw bad("unsupported persistent id " + describe(pid));
        }
        Dtype dtype = STORAGES.get(g.name());
        if (dtype == null) throw bad("unsupported storage type " + g.qualified());
        return new StorageRef(dtype, key, num(t.get(4)));
    }

    // ------------------------------------------------------------------------------------------ helpers

    private static final Object NULL = new Object();

    /** Tuples may contain None; an ArrayList wrapped unmodifiable allows that, List.of does not. */
    private static Object box(Object o) { return o == null ? NULL : o; }

    private static List<Object> tuple(List<Object> items) {
        List<Object> out = new ArrayList<>(items.size());
        for (Object o : items) out.add(o == NULL ? null : o);
        return java.util.Collections.unmodifiableList(out);
    }

    private long len32() {
        long n = in.getInt() & 0xffffffffL;
        if (n > in.remaining()) throw bad("pickle string of " + n + " bytes runs past the end");
        return n;
    }

    private String string(long n, java.nio.charset.Charset cs) {
        return new String(bytes(n), cs);
    }

    private byte[] bytes(long n) {
        if (n > in.remaining()) throw bad("pickle data of " + n + " bytes runs past the end");
        byte[] b = new byte[(int) n];
        in.get(b);
        return b;
    }

    private String line() {
        StringBuilder sb = new StringBuilder();
        for (byte c; (c = in.get()) != '\n'; ) {
            if (sb.length() > 200) throw bad("GLOBAL name too long");
            sb.append((char) (c & 0xff));
        }
        return sb.toString();
    }

    private long long1(int n) {
        if (n > 8) throw bad("integer of " + n + " bytes is too large");
        long v = 0;
        for (int i = 0; i < n; i++) v |= (long) (in.get() & 0xff) << (8 * i);
        if (n > 0 && n < 8 && (v & (1L << (8 * n - 1))) != 0) v -= 1L << (8 * n); // sign-extend
        return v;
    }

    private Object memoGet(long k) {
        if (!memo.containsKey(k)) throw bad("pickle memo key " + k + " is not defined");
        return memo.get(k);
    }

    private Object peek() {
        if (stack.isEmpty()) throw bad("pickle stack underflow");
        return stack.getLast();
    }

    private Object pop() {
        if (stack.isEmpty()) throw bad("pickle stack underflow");
        Object o = stack.removeLast();
        if (o == MARK) throw bad("unexpected MARK on the pickle stack");
        return o;
    }

    private List<Object> popMark() {
        int i = stack.lastIndexOf(MARK);
        if (i < 0) throw bad("pickle MARK not found");
        List<Object> items = new ArrayList<>(stack.subList(i + 1, stack.size()));
        stack.subList(i, stack.size()).clear();
        return items;
    }

    @SuppressWarnings("unchecked")
    private List<Object> list(Object o) {
        if (o instanceof ArrayList<?> l) return (List<Object>) l;
        throw bad("APPEND to a " + describe(o));
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> dict(Object o) {
        if (o instanceof LinkedHashMap<?, ?> m) return (Map<Object, Object>) m;
        throw bad("SETITEM on a " + describe(o));
    }

    private String str(Object o) {
        if (o instanceof String s) return s;
        throw bad("expected a string, got " + describe(o));
    }

    private long num(Object o) {
        if (o instanceof Long l) return l;
        if (o instanceof Boolean b) return b ? 1 : 0;
        throw bad("expected an integer, got " + describe(o));
    }

    private static String describe(Object o) { return o == null ? "None" : o.getClass().getSimpleName(); }

    private CheckpointFormatException bad(String why) { return new CheckpointFormatException(source + ": " + why); }
}
