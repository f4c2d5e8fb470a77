import Dispatch
import Foundation

/// SIGINT (Ctrl-C), SIGTERM (CI cancellation, `timeout`, Kubernetes) and SIGHUP while a command's work
/// runs as a task: the first signal cancels the task (which stops its sandboxes or requests and cleans
/// up); a second one, or a task that does not stop within 10 s (a registry that keeps a request open,
/// say), exits at once with 128 + the signal: 130, 143, 129.
final class StopSignals {
    /// The first signal received, if any.
    let interrupted = InterruptFlag()
    private let sources: [DispatchSourceSignal]

    init<T: Sendable>(cancelling task: Task<T, any Error>) {
        let interrupted = interrupted
        sources = [SIGINT, SIGTERM, SIGHUP].map { number -> DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number)
            source.setEventHandler {
                if let first = interrupted.signal { Foundation.exit(128 + first) }
                interrupted.set(number)
                task.cancel()
                DispatchQueue.global().asyncAfter(deadline: .now() + 10) { Foundation.exit(128 + number) }
            }
            source.resume()
            return source
        }
    }

    /// Stops listening (the signals keep being ignored).
    func cancel() { sources.forEach { $0.cancel() } }

    /// What to say on stderr when a signal stopped the work.
    static func message(_ number: Int32) -> String {
        number == SIGINT ? "interrupted\n" : "stopped by \(number == SIGTERM ? "SIGTERM" : "SIGHUP")\n"
    }
}
