/// Why a run stopped before its last step.
public enum EngineError: Error, Equatable, CustomStringConvertible {
    /// The recommender answered with a slate that breaks the rules.
    case invalidSlate(step: Int, user: Int, position: Int?, item: Int?, reason: String)
    /// The recommender answered with the wrong number of slates.
    case wrongSlateCount(step: Int, expected: Int, got: Int)
    /// The recommender failed (threw) in a phase.
    case recommenderFailed(step: Int, phase: String, message: String)
    /// An observer (metric) failed.
    case observerFailed(step: Int, message: String)
    /// The user interrupted the run (Ctrl-C / SIGTERM) before this step.
    case interrupted(step: Int)

    /// The step at which the run stopped.
    public var step: Int {
        switch self {
        case .invalidSlate(let s, _, _, _, _), .wrongSlateCount(let s, _, _), .recommenderFailed(let s, _, _),
            .observerFailed(let s, _), .interrupted(let s):
            return s
        }
    }

    public var description: String {
        switch self {
        case .invalidSlate(let s, let u, let p, let i, let why):
            var where_ = "step \(s), user \(u)"
            if let p { where_ += ", slate position \(p + 1)" }
            if let i { where_ += ", item \(i)" }
            return "invalid slate at \(where_): \(why)"
        case .wrongSlateCount(let s, let e, let g):
            return "invalid answer at step \(s): expected \(e) item ids (one slate per requested user), got \(g)"
        case .recommenderFailed(let s, let phase, let m):
            return "the recommender failed at step \(s) (\(phase)): \(m)"
        case .observerFailed(let s, let m):
            return "a metric failed at step \(s): \(m)"
        case .interrupted(let s):
            return "interrupted before step \(s) (Ctrl-C or SIGTERM)"
        }
    }
}
