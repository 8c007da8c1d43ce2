import Dispatch
import Synchronization

/// Runs fixed-size blocks of work in parallel on a fixed number of workers.
///
/// Determinism comes from the blocks, not the workers: the block boundaries depend only on the
/// problem size and the block size, each block's result depends only on its own input, and
/// results are returned (or reduced) in block order. Workers pick blocks dynamically, so the
/// result is the same for 1, 2 or 8 workers while the load stays balanced.
///
/// BLAS runs single-threaded inside each block (``BLASRuntime/ensureConfigured()`` is called
/// when an executor is created, before any block runs).
public struct BlockExecutor: Sendable {
    /// Number of worker threads (≥ 1).
    public let workers: Int

    /// Creates an executor.
    ///
    /// - Parameter workers: number of worker threads, ≥ 1.
    public init(workers: Int) {
        precondition(workers >= 1, "workers must be ≥ 1, got \(workers)")
        self.workers = workers
        BLASRuntime.ensureConfigured()
        MemoryRuntime.ensureConfigured()
    }

    /// The blocks covering `0..<count` in order: `[0, size), [size, 2·size), …`, the last one
    /// possibly shorter. Empty when `count == 0`.
    public static func blocks(count: Int, blockSize: Int) -> [Range<Int>] {
        precondition(count >= 0 && blockSize >= 1, "need count ≥ 0 and blockSize ≥ 1, got \(count), \(blockSize)")
        return stride(from: 0, to: count, by: blockSize).map { $0..<min($0 + blockSize, count) }
    }

    /// Calls `body(block, worker)` once for every block index in `0..<blockCount`, in parallel.
    ///
    /// `worker` is in `0..<workers` and identifies per-worker scratch space; it never affects
    /// what a block computes.
    public func forEach(blockCount: Int, _ body: @Sendable (_ block: Int, _ worker: Int) -> Void) {
        if blockCount <= 0 { return }
        let w = min(workers, blockCount)
        if w == 1 {
            for b in 0..<blockCount { body(b, 0) }
            return
        }
        let next = Atomic<Int>(0)
        withoutActuallyEscaping(body) { body in
            let box = UncheckedBox(body)
            DispatchQueue.concurrentPerform(iterations: w) { worker in
                while true {
                    let b = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    if b >= blockCount { break }
                    box.value(b, worker)
                }
            }
        }
    }

    /// Computes `body(block, worker)` for every block and returns the results in block order.
    public func map<T: Sendable>(blockCount: Int, _ body: @Sendable (_ block: Int, _ worker: Int) -> T) -> [T] {
        let out = SharedArray<T?>(repeating: nil, count: blockCount)
        forEach(blockCount: blockCount) { b, w in out[b] = body(b, w) }
        return out.toArray().map { $0! }
    }

    /// Like ``map(blockCount:_:)`` for a throwing body. If any block throws, the error of the
    /// lowest-numbered failing block is rethrown (so the reported error does not depend on
    /// timing); the other blocks still run to completion.
    public func tryMap<T: Sendable>(blockCount: Int, _ body: @Sendable (_ block: Int, _ worker: Int) throws -> T) throws -> [T] {
        let out = SharedArray<Result<T, any Error>?>(repeating: nil, count: blockCount)
        forEach(blockCount: blockCount) { b, w in out[b] = Result { try body(b, w) } }
        return try out.toArray().map { try $0!.get() }
    }

    /// Runs `side` on a thread of its own while `main` runs on the calling thread, when the
    /// executor has two workers or more; with one, `side` runs first, then `main`. Returns when
    /// both have finished: `main`'s result, or `side`'s error if it threw (`main`'s otherwise).
    ///
    /// For a sequential pass that would leave the other workers idle, beside work that keeps them
    /// busy. The two must not touch the same mutable state: then what they compute is the same
    /// as one after the other, for any number of workers. Either may use executors (more threads
    /// than workers then run at once, for as long as `side` runs).
    public func overlapping<R, E: Error>(_ side: () throws(E) -> Void, with main: () throws(E) -> R) throws(E) -> R {
        if workers < 2 {
            let sideOutcome = Result<Void, E> { () throws(E) in try side() }
            let mainOutcome = Result<R, E> { () throws(E) in try main() }
            try sideOutcome.get()
            return try mainOutcome.get()
        }
        return try withoutActuallyEscaping(side) { (side) throws(E) -> R in
            let task = SideTask(side)
            let done = DispatchSemaphore(value: 0)
            DispatchQueue.global().async {
                task.run()
                done.signal()
            }
            let mainOutcome = Result<R, E> { () throws(E) in try main() }
            done.wait()
            try task.outcome.get()
            return try mainOutcome.get()
        }
    }
}

/// ``BlockExecutor/overlapping(_:with:)``'s side task: its body, dropped as soon as it has run
/// (so the non-escaping closure is no longer referenced when the caller returns), and its outcome.
/// The caller reads `outcome` only after the task signalled that it finished.
private final class SideTask<E: Error>: @unchecked Sendable {
    private var body: (() throws(E) -> Void)?
    private(set) var outcome: Result<Void, E> = .success(())

    init(_ body: @escaping () throws(E) -> Void) { self.body = body }

    func run() {
        outcome = Result { () throws(E) in try body!() }
        body = nil
    }
}

// Lets a non-escaping Sendable closure cross into concurrentPerform.
private struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// A fixed-size array that parallel blocks write at **disjoint** indices.
///
/// This is the one place where Cocoon shares mutable memory between worker threads: each
/// block of a ``BlockExecutor`` run owns a range of indices and only writes there; nothing
/// reads an index while another block may be writing it. Reads after the parallel section
/// (``toArray()``) see every write, because `concurrentPerform` returns only after all
/// workers finished.
public final class SharedArray<Element>: @unchecked Sendable {
    // Inlinable access (base, _read, _write, init): callers in other modules get code
    // specialised for their element type instead of generic calls per element.
    @usableFromInline let base: UnsafeMutablePointer<Element>
    /// Number of elements.
    public let count: Int

    /// Creates the array with `count` copies of `value`.
    @inlinable
    public init(repeating value: Element, count: Int) {
        precondition(count >= 0, "count must be ≥ 0, got \(count)")
        self.count = count
        base = SharedArray.allocate(count)
        base.initialize(repeating: value, count: count)
    }

    /// Creates the array from the elements of `values`.
    public init(_ values: [Element]) {
        count = values.count
        base = SharedArray.allocate(count)
        values.withUnsafeBufferPointer { p in
            if let a = p.baseAddress { base.initialize(from: a, count: count) }
        }
    }

    /// Storage for `count` elements on a cache line's boundary (64 bytes): blocks that own
    /// whole lines of it (a range of coordinates, say) then never write a line another block
    /// writes.
    @usableFromInline static func allocate(_ count: Int) -> UnsafeMutablePointer<Element> {
        let bytes = max(count, 1) * MemoryLayout<Element>.stride
        return UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: max(64, MemoryLayout<Element>.alignment))
            .bindMemory(to: Element.self, capacity: max(count, 1))
    }

    deinit {
        base.deinitialize(count: count)
        UnsafeMutableRawPointer(base).deallocate()
    }

    /// Element access (not synchronised: write only indices your block owns).
    @inlinable
    public subscript(i: Int) -> Element {
        get {
            precondition(i >= 0 && i < count, "index \(i) out of range 0..<\(count)")
            return _read(i)
        }
        set {
            precondition(i >= 0 && i < count, "index \(i) out of range 0..<\(count)")
            _write(i, newValue)
        }
    }

    @inlinable func _read(_ i: Int) -> Element { base[i] }
    @inlinable func _write(_ i: Int, _ v: Element) { base[i] = v }

    /// Calls `body` with the elements `range` as a mutable span (no copy).
    @inlinable
    public func withMutableSpan<R>(_ range: Range<Int>, _ body: (inout MutableSpan<Element>) throws -> R) rethrows -> R {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "range \(range) out of 0..<\(count)")
        let buf = UnsafeMutableBufferPointer(start: base + range.lowerBound, count: range.count)
        var span = buf.mutableSpan
        return try body(&span)
    }

    /// Calls `body` with the elements `range` as a read-only span (no copy).
    @inlinable
    public func withSpan<R>(_ range: Range<Int>, _ body: (Span<Element>) throws -> R) rethrows -> R {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "range \(range) out of 0..<\(count)")
        let buf = UnsafeBufferPointer(start: base + range.lowerBound, count: range.count)
        return try body(buf.span)
    }

    /// Calls `body` with the elements `range` through a pointer (for code that needs a
    /// `Collection` or a buffer pointer, not a span).
    @inlinable
    public func withUnsafeMutableBufferPointer<R>(_ range: Range<Int>, _ body: (UnsafeMutableBufferPointer<Element>) throws -> R) rethrows -> R {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "range \(range) out of 0..<\(count)")
        return try body(UnsafeMutableBufferPointer(start: base + range.lowerBound, count: range.count))
    }

    /// A copy of the elements, in order.
    @inlinable
    public func toArray() -> [Element] {
        Array(UnsafeBufferPointer(start: base, count: count))
    }
}

/// A Swift array's storage that parallel blocks write at **disjoint** indices, in place: the
/// ``SharedArray`` discipline without the copy `toArray()` makes (a step's slates at a million
/// users are 40 MB). Valid only inside ``Swift/Array/fillInParallel(_:)``.
public struct ParallelBuffer<Element>: @unchecked Sendable {
    @usableFromInline let base: UnsafeMutableBufferPointer<Element>

    @inlinable
    public subscript(i: Int) -> Element {
        get { base[i] }
        nonmutating set { base[i] = newValue }
    }

    public var count: Int { base.count }

    /// Elements `range` as one buffer (the calling block must be the only writer of them).
    @inlinable
    public func withElements<R>(_ range: Range<Int>, _ body: (UnsafeMutableBufferPointer<Element>) throws -> R) rethrows -> R {
        precondition(range.lowerBound >= 0 && range.upperBound <= base.count, "elements \(range) of \(base.count)")
        return try body(UnsafeMutableBufferPointer(rebasing: base[range]))
    }

    /// Element i modified in place (no copy of an element that is itself an array).
    @inlinable
    public func withElement<R>(_ i: Int, _ body: (inout Element) throws -> R) rethrows -> R {
        try body(&base[i])
    }
}

extension ParallelBuffer where Element: BinaryFloatingPoint {
    /// Adds `source[from ..< from + count]` to elements `at ..< at + count`, each element with
    /// one addition: the sums of an element-by-element loop over the subscript, without its
    /// overflow checks, so the loop runs on vectors.
    @inlinable
    public func add(_ source: UnsafeBufferPointer<Element>, from: Int, count: Int, at: Int) {
        precondition(
            from >= 0 && count >= 0 && from + count <= source.count && at >= 0 && at + count <= base.count,
            "rows \(from)..<\(from + count) of \(source.count) added at \(at) of \(base.count)")
        guard count > 0 else { return }
        let src = source.baseAddress! + from, dst = base.baseAddress! + at
        for j in 0..<count { dst[j] = dst[j] + src[j] }
    }
}

extension Array {
    /// Lets `body` hand the array's storage to parallel blocks that write disjoint indices
    /// (see ``ParallelBuffer``); the writes are in the array when it returns.
    public mutating func fillInParallel<R>(_ body: (ParallelBuffer<Element>) throws -> R) rethrows -> R {
        try withUnsafeMutableBufferPointer { try body(ParallelBuffer(base: $0)) }
    }
}
