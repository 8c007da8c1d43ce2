import CocoonCore
import Foundation

/// What went wrong with a plugin, where, and how to fix it. The description always ends with
/// the last lines the plugin wrote to its stderr (its log).
public struct PluginError: Error, CustomStringConvertible, Sendable {
    /// The kind of fault (stable names, used by tests and `cocoon plugin check`).
    public enum Fault: String, Sendable {
        case notFound = "not found"
        case exited = "exited"
        case timeout = "timeout"
        case malformedJSON = "malformed JSON"
        case outOfProtocol = "out of protocol"
        case versionMismatch = "protocol version mismatch"
        case wrongSlateCount = "wrong number of slates"
        case wrongSlateSize = "wrong slate size"
        case unknownItem = "unknown item id"
        case duplicateItem = "duplicate item id"
        case pluginError = "error reported by the plugin"
        case io = "i/o"
    }

    public let fault: Fault
    /// The phase: `hello`, `start`, `recommend`, `feedback`, `shutdown`.
    public let phase: String
    /// The step (0 before the first step).
    public let step: Int
    /// The user concerned, when there is one.
    public let user: Int?
    /// What happened.
    public let message: String
    /// How to fix it.
    public let hint: String
    /// The last lines of the plugin's stderr.
    public let stderrTail: [String]

    public var description: String {
        var s = "plugin fault (\(fault.rawValue))"
        if phase == "hello" || phase == "start" || phase == "spawn" { s += " during \(phase)" }
        if let user { s += ", user \(user)" }
        s += ": \(message)"
        if !hint.isEmpty { s += ". " + hint.prefix(1).uppercased() + hint.dropFirst() }
        if fault == .notFound {
            // Never started: no log.
        } else if stderrTail.isEmpty {
            s += "\n  (the plugin wrote nothing to stderr)"
        } else {
            s += "\n  last lines of the plugin's stderr:\n" + stderrTail.map { "  | " + $0 }.joined(separator: "\n")
        }
        return s
    }
}

/// A child process spoken to in JSON Lines: requests on its stdin, answers on its stdout, its
/// stderr kept as a log (the last lines go into every error). Every read has a deadline; a
/// fault kills the child.
final class PluginProcess: @unchecked Sendable {
    let command: [String]
    let timeout: Double
    private let process = Process()
    private var stdinFD: Int32 = -1
    private var stdoutFD: Int32 = -1
    private var stderrFD: Int32 = -1
    private var outBuffer: [UInt8] = []
    private var errBuffer: [UInt8] = []
    private var stdoutClosed = false
    private var stderrClosed = false
    private var logFile: FileHandle?
    /// Bytes written to and read from the child (for the overhead benchmark).
    private(set) var bytesSent = 0
    private(set) var bytesReceived = 0

    /// Starts the command.
    init(command: [String], timeout: Double) throws {
        self.command = command
        self.timeout = timeout
        signal(SIGPIPE, SIG_IGN)
        guard let program = command.first, !program.isEmpty else {
            throw PluginError(fault: .notFound, phase: "spawn", step: 0, user: nil, message: "no command given",
                              hint: "give the program and its arguments: --plugin -- python3 rec.py", stderrTail: [])
        }
        guard let path = PluginProcess.resolve(program) else {
            throw PluginError(fault: .notFound, phase: "spawn", step: 0, user: nil,
                              message: "cannot find the program '\(program)'\(program.contains("/") ? "" : " on the PATH")",
                              hint: "check the command, or give the program's full path", stderrTail: [])
        }
        let input = Pipe(), output = Pipe(), error = Pipe()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = Array(command.dropFirst())
        process.standardInput = input
        process.standardOutput = output
        process.standardError = error
        do {
            try process.run()
        } catch {
            throw PluginError(fault: .notFound, phase: "spawn", step: 0, user: nil, message: "cannot start '\(path)': \(error.localizedDescription)",
                              hint: "is the file executable?", stderrTail: [])
        }
        stdinFD = input.fileHandleForWriting.fileDescriptor
        stdoutFD = output.fileHandleForReading.fileDescriptor
        stderrFD = error.fileHandleForReading.fileDescriptor
        // Keep the pipe objects' descriptors alive by holding duplicates we own.
        stdinFD = dup(stdinFD)
        stdoutFD = dup(stdoutFD)
        stderrFD = dup(stderrFD)
        try? input.fileHandleForWriting.close()
        try? output.fileHandleForReading.close()
        try? error.fileHandleForReading.close()
        for fd in [stdinFD, stdoutFD, stderrFD] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        if let logPath = ProcessInfo.processInfo.environment["COCOON_PLUGIN_LOG"], !logPath.isEmpty {
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
            logFile = FileHandle(forWritingAtPath: logPath)
        }
    }

    deinit { kill() }

    /// The program's path: as given when it contains a slash, else found on the PATH.
    static func resolve(_ program: String) -> String? {
        if program.contains("/") { return FileManager.default.isExecutableFile(atPath: program) ? program : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = String(dir) + "/" + program
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Whether the child is still running.
    var isRunning: Bool { process.isRunning }

    /// Kills the child (SIGKILL) and closes the pipes.
    func kill() {
        if process.isRunning {
            Foundation.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        for fd in [stdinFD, stdoutFD, stderrFD] where fd >= 0 { close(fd) }
        stdinFD = -1
        stdoutFD = -1
        stderrFD = -1
        try? logFile?.close()
        logFile = nil
    }

    /// Closes the child's stdin and waits up to `seconds` for it to exit; kills it otherwise.
    func finish(within seconds: Double) {
        if stdinFD >= 0 {
            close(stdinFD)
            stdinFD = -1
        }
        let deadline = Self.now() + seconds
        while process.isRunning && Self.now() < deadline {
            pump(until: min(deadline, Self.now() + 0.05))
        }
        kill()
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// The last `n` lines of the child's stderr.
    func stderrTail(_ n: Int = 12) -> [String] {
        let text = String(decoding: errBuffer, as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return lines.suffix(n).map { $0.count > 300 ? String($0.prefix(300)) + "…" : $0 }
    }

    /// An error with the stderr tail.
    func error(_ fault: PluginError.Fault, phase: String, step: Int, user: Int? = nil, _ message: String, hint: String = "") -> PluginError {
        // Give the child a moment to finish writing its last words (a traceback).
        pump(until: Self.now() + 0.05)
        return PluginError(fault: fault, phase: phase, step: step, user: user, message: message, hint: hint, stderrTail: stderrTail())
    }

    /// Why the child is gone, as text.
    func exitDescription() -> String {
        let deadline = Self.now() + 2
        while process.isRunning && Self.now() < deadline { usleep(2000) }
        if process.isRunning { return "it closed its stdout but is still running" }
        switch process.terminationReason {
        case .uncaughtSignal: return "it was killed by signal \(process.terminationStatus)"
        default: return "it exited with status \(process.terminationStatus)"
        }
    }

    /// Reads what is available on stdout and stderr until `deadline` or until stdout holds a
    /// complete line.
    @discardableResult
    private func pump(until deadline: Double, wantLine: Bool = false, writing: UnsafeRawBufferPointer? = nil,
                      written: UnsafeMutablePointer<Int>? = nil) -> Bool
    {
        var fds: [pollfd] = []
        repeat {
            fds.removeAll(keepingCapacity: true)
            if !stdoutClosed && stdoutFD >= 0 { fds.append(pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0)) }
            if !stderrClosed && stderrFD >= 0 { fds.append(pollfd(fd: stderrFD, events: Int16(POLLIN), revents: 0)) }
            if let w = writing, let done = written, done.pointee < w.count, stdinFD >= 0 {
                fds.append(pollfd(fd: stdinFD, events: Int16(POLLOUT), revents: 0))
            }
            if fds.isEmpty { return false }
            let left = max(0, deadline - Self.now())
            let ms = Int32(min(left * 1000, 1000).rounded(.up))
            let n = poll(&fds, nfds_t(fds.count), ms)
            if n < 0 && errno != EINTR { return false }
            for p in fds where p.revents != 0 {
                if p.fd == stdinFD, let w = writing, let done = written {
                    let r = Foundation.write(stdinFD, w.baseAddress! + done.pointee, w.count - done.pointee)
                    if r > 0 {
                        done.pointee += r
                    } else if r < 0 && errno != EAGAIN && errno != EINTR {
                        return false
                    }
                    continue
                }
                var chunk = [UInt8](repeating: 0, count: 1 << 16)
                let r = chunk.withUnsafeMutableBytes { read(p.fd, $0.baseAddress!, $0.count) }
                if r > 0 {
                    if p.fd == stdoutFD {
                        outBuffer.append(contentsOf: chunk[0..<r])
                        bytesReceived += r
                    } else {
                        errBuffer.append(contentsOf: chunk[0..<r])
                        logFile?.write(Data(chunk[0..<r]))
                        if errBuffer.count > 1 << 16 { errBuffer.removeFirst(errBuffer.count - (1 << 15)) }
                    }
                } else if r == 0 || (errno != EAGAIN && errno != EINTR) {
                    if p.fd == stdoutFD { stdoutClosed = true } else { stderrClosed = true }
                }
            }
            if wantLine && outBuffer.contains(10) { return true }
            if let w = writing, let done = written, done.pointee >= w.count { return true }
        } while Self.now() < deadline
        return false
    }

    /// Writes one message (a line) to the child.
    func send(_ line: [UInt8], phase: String, step: Int) throws {
        guard stdinFD >= 0 else { throw error(.exited, phase: phase, step: step, "its stdin is closed") }
        let deadline = Self.now() + timeout
        var written = 0
        try line.withUnsafeBytes { buf in
            while written < buf.count {
                if !process.isRunning && written < buf.count {
                    throw error(.exited, phase: phase, step: step, "the plugin stopped before reading the \(phase) message: \(exitDescription())",
                                hint: "see its stderr below")
                }
                let ok = pump(until: deadline, writing: buf, written: &written)
                if written >= buf.count { break }
                if !ok {
                    if Self.now() >= deadline {
                        throw error(.timeout, phase: phase, step: step,
                                    "the plugin did not read the \(phase) message within \(Format.number(timeout)) s",
                                    hint: "it may be stuck; raise the timeout (--plugin-timeout, or recommender.timeout in a scenario) if it is just slow")
                    }
                    throw error(.exited, phase: phase, step: step, "cannot write to the plugin: \(exitDescription())", hint: "see its stderr below")
                }
            }
        }
        bytesSent += line.count
    }

    /// Reads the next line from the child's stdout (without the newline).
    func receiveLine(phase: String, step: Int) throws -> [UInt8] {
        let deadline = Self.now() + timeout
        while true {
            if let nl = outBuffer.firstIndex(of: 10) {
                let line = Array(outBuffer[..<nl])
                outBuffer.removeFirst(nl + 1)
                if line.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { continue }
                return line
            }
            if outBuffer.count > 1 << 30 {
                throw error(.malformedJSON, phase: phase, step: step, "the answer exceeds 1 GiB without a line break",
                            hint: "write one JSON object per line")
            }
            if !stdoutClosed && !process.isRunning {
                // Drain what it wrote before exiting.
                pump(until: Self.now() + 0.05, wantLine: true)
                if outBuffer.contains(10) { continue }
                stdoutClosed = true
            }
            if stdoutClosed {
                throw error(.exited, phase: phase, step: step, "the plugin closed its stdout without answering the \(phase) message: \(exitDescription())",
                            hint: "see its stderr below")
            }
            if Self.now() >= deadline {
                throw error(.timeout, phase: phase, step: step,
                            "no answer to the \(phase) message within \(Format.number(timeout)) s\(process.isRunning ? "" : " (" + exitDescription() + ")")",
                            hint: "the plugin may be stuck, or buffering its output: flush stdout after each line; raise the timeout (--plugin-timeout, or recommender.timeout in a scenario) if it is just slow")
            }
            pump(until: deadline, wantLine: true)
        }
    }
}
