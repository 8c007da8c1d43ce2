internal import _CocoonKernels

/// An item matrix packed for ``BlockScorer``'s own score products: panels of 16 items, each
/// stored dimension by dimension (16 floats per dimension, zero past the last item).
///
/// The scorer reads one 16-item row of a panel per dimension and multiplies it by each user's
/// value of that dimension, so it needs neither a transposed copy per tile nor a zeroed tile of
/// results: what OpenBLAS' `sgemm` does on every call (about a fifth of its time at W2's
/// shapes, `docs/performance.md`). Packed once per scorer; immutable, so shared between
/// workers.
package final class ItemPanels: @unchecked Sendable {
    /// The packed values: ceil(items / 16) panels of 16 · dimension floats, 64-byte aligned
    /// (written once, in `init`; read-only after).
    package let values: UnsafeMutableBufferPointer<Float>
    package let items: Int
    package let dimension: Int
    /// Whether ``products(users:rows:rowStride:first:width:into:outStride:)`` runs the AVX-512
    /// kernel (else one score at a time; the same bits).
    package let avx512: Bool

    /// Packs `m`; `avx512` only where the machine runs it (``vectorized``).
    package init(_ m: Matrix, avx512: Bool) {
        precondition(m.rows > 0 && m.cols > 0, "panels of an empty matrix (\(m.rows) × \(m.cols))")
        precondition(!avx512 || Self.vectorized, "this machine cannot run the AVX-512 panel kernel")
        items = m.rows
        dimension = m.cols
        self.avx512 = avx512
        let count = (m.rows + 15) / 16 * 16 * m.cols
        let raw = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.stride, alignment: 64)
        values = UnsafeMutableBufferPointer(start: raw.bindMemory(to: Float.self, capacity: count), count: count)
        m.storage.withUnsafeBufferPointer { v in cocoon_pack_panels(v.baseAddress!, m.rows, m.cols, values.baseAddress!) }
    }

    deinit { UnsafeMutableRawPointer(values.baseAddress!).deallocate() }

    /// Writes the scores of `rows` users (`rowStride` floats apart from `users`) against items
    /// `first ..< first + width` (`first` a multiple of 16) to `out`, `outStride` floats a row:
    /// each one chain of fused multiply-adds in dimension order (``BlockScorer/Products``).
    /// With `offsets`, the topic offsets of its rows `offsetRow ..< offsetRow + rows`
    /// (``RowTopicOffsets``) are added to these users' scores before they are stored, as
    /// ``TopicOffsets/add(to:topics:offsets:)`` would add them afterwards.
    ///
    /// With `screen`, the products also mark where each row may hold one of its best items:
    /// bit b % 64 of word `r · screen.words + b / 64` of `screen.bits` is set when one of row r's
    /// stored scores of items `first + 32b ..< first + 32b + 32` is above `screen.thresholds[r]`
    /// (`screen.words` ≥ ``screenWords(width:)``; the caller zeroes the words first; see
    /// ``TopKSelector/offerScreened(_:count:baseIndex:k:scores:indices:screen:)``).
    package func products(
        users: UnsafePointer<Float>, rows: Int, rowStride: Int, first: Int, width: Int,
        into out: UnsafeMutablePointer<Float>, outStride: Int, offsets: RowTopicOffsets? = nil, offsetRow: Int = 0,
        screen: (thresholds: UnsafePointer<Float>, bits: UnsafeMutablePointer<UInt64>, words: Int)? = nil
    ) {
        precondition(
            first % 16 == 0 && first >= 0 && first + width <= items,
            "items \(first)..<\(first + width) are not panel-aligned items of \(items)")
        let kernel = avx512 ? Int32(1) : 0
        if let screen {
            precondition(screen.words >= Self.screenWords(width: width), "\(screen.words) screen words a row for \(width) items")
        }
        let thresholds = screen?.thresholds, bits = screen?.bits, words = screen?.words ?? 0
        // Without tables no row has offsets (``RowTopicOffsets``' precondition).
        guard let offsets, !offsets.tables.isEmpty, rows > 0 else {
            cocoon_panel_products(
                users, rows, rowStride, dimension, values.baseAddress!, first, width, out, outStride, kernel, nil, nil, nil,
                thresholds, bits, words)
            return
        }
        precondition(
            offsets.topics.count >= first + width && offsetRow >= 0 && offsets.rows.count >= offsetRow + rows,
            "offsets for \(offsets.rows.count) rows and \(offsets.topics.count) items,"
                + " rows \(offsetRow)..<\(offsetRow + rows) of items up to \(first + width) scored")
        offsets.topics.withUnsafeBufferPointer { topics in
            offsets.tables.withUnsafeBufferPointer { tables in
                offsets.rows.withUnsafeBufferPointer { has in
                    cocoon_panel_products(
                        users, rows, rowStride, dimension, values.baseAddress!, first, width, out, outStride, kernel,
                        topics.baseAddress! + first, tables.baseAddress! + offsetRow * RowTopicOffsets.stride,
                        has.baseAddress! + offsetRow, thresholds, bits, words)
                }
            }
        }
    }

    /// Words of screen bits a row of `width` scores takes: one bit per run of 32 items.
    package static func screenWords(width: Int) -> Int { (width + 2047) / 2048 }

    /// Whether this machine computes the products with AVX-512.
    package static let vectorized: Bool = cocoon_panel_products_vectorized() != 0
}
