import Foundation
import NIOConcurrencyHelpers
import PlanExecutor
import PlanOCI

/// Prints run events: a live view on a terminal (a line per running step with its elapsed time,
/// folded into one line per stage when it finishes), prefixed lines for CI, or JSON lines for tools.
final class ProgressReporter: Sendable {
    private let state: NIOLockedValueBox<ProgressState>
    /// Redraws the live view every 100 ms, so that elapsed times move while a step prints nothing.
    private let ticker: Task<Void, Never>?

    init(json: Bool, live: Bool = false, explain: Bool = false) {
        let state = NIOLockedValueBox(ProgressState(json: json, live: live && !json, explain: explain))
        self.state = state
        if state.withLockedValue({ $0.live }) {
            ticker = Task {
                while (try? await Task.sleep(for: .milliseconds(100))) != nil {
                    state.withLockedValue { $0.redraw() }
                }
            }
        } else {
            ticker = nil
        }
    }

    deinit { ticker?.cancel() }

    func stop() {
        ticker?.cancel()
        state.withLockedValue { $0.stop() }
    }

    func handle(_ event: ExecutionEvent) {
        state.withLockedValue { $0.handle(event) }
    }

    func summary(stage: String, seconds: Double) {
        state.withLockedValue { $0.summary(stage: stage, seconds: seconds) }
    }

    /// How many steps came from the cache.
    func cacheSummary() {
        state.withLockedValue { $0.cacheSummary() }
    }

    /// The digests pushed, one line per name: what to deploy.
    func pushSummary() {
        state.withLockedValue { $0.pushSummary() }
    }
}

/// What the reporter has seen and drawn; the reporter changes it only under its lock.
private struct ProgressState {
    let json: Bool
    let live: Bool
    let explain: Bool
    var hits = 0
    var misses = 0
    var partial: [String: String] = [:]
    /// Running stages: their current step, when it started, and the last line it printed.
    var running: [(stage: String, step: String, since: Date, last: String)] = []
    var drawnLines = 0
    /// Set by `stop()`: the live view is no longer redrawn.
    var stopped = false
    /// Blob bytes sent so far, by reference being pushed (live view).
    var pushedBytes: [String: Int64] = [:]
    /// `NAME:TAG@sha256:…` of every name pushed, in order.
    var pushed: [String] = []

    mutating func handle(_ event: ExecutionEvent) {
        switch event {
        case .cache(let stage, let step, let description, let hit, let reason):
            if hit { hits += 1 } else { misses += 1 }
            if json {
                var fields = ["event": "cache", "stage": stage, "step": String(step), "description": description,
                              "result": hit ? "hit" : "miss"]
                fields["reason"] = reason
                line(fields, text: "")
            } else if explain {
                // The explanation is what was asked for: standard output, one line per step.
                clearLive()
                Output.standardOutput((hit ? "hit  " : "miss ") + "[\(stage) #\(step)] \(description)"
                                          + (reason.map { ": " + $0 } ?? "") + "\n")
            } else if hit, !live {
                line([:], text: "[\(stage)] CACHED \(description)")
            }
            if live { drawLive() }
            return
        case .warning(let message):
            if live { clearLive() }
            line(["event": "warning", "message": message], text: "warning: \(message)")
            return
        case .note(let message):
            if live { clearLive() }
            line(["event": "note", "message": message], text: message)
            if live { drawLive() }
            return
        case .push(let target, let reference, let event):
            handlePush(target: target, reference: reference, event)
            return
        case .imageExported(let image):
            handleImage(image)
            return
        default:
            break
        }
        if live {
            handleLive(event)
            return
        }
        switch event {
        case .stageStarted(let stage): line(["event": "stage-started", "stage": stage], text: "[\(stage)] started")
        case .stepStarted(let stage, _, let description):
            line(["event": "step", "stage": stage, "step": description], text: "[\(stage)] \(description)")
        case .output(let stage, _, let data):
            for output in completeLines(stage, data) {
                line(["event": "output", "stage": stage, "line": output], text: "[\(stage)] \(output)")
            }
        case .stageFinished(let stage, let seconds):
            line(["event": "stage-finished", "stage": stage, "seconds": String(format: "%.2f", seconds)],
                 text: "[\(stage)] done in \(String(format: "%.1f", seconds)) s")
        case .stageFailed(let stage, let message):
            line(["event": "stage-failed", "stage": stage, "message": message], text: "[\(stage)] FAILED: \(message)")
        case .cache, .warning, .note, .push, .imageExported:
            break
        }
    }

    // MARK: Pushes

    private mutating func handlePush(target: String, reference: String, _ event: PushEvent) {
        func blob(_ descriptor: Descriptor, _ result: String, from: String? = nil) {
            var fields = ["event": "push-blob", "target": target, "reference": reference, "digest": descriptor.digest.description,
                          "size": String(descriptor.size), "result": result]
            fields["from"] = from
            line(fields, text: "")
        }
        switch event {
        case .blobPresent(let descriptor): if json { blob(descriptor, "present") }
        case .blobMounted(let descriptor, let from): if json { blob(descriptor, "mounted", from: from) }
        case .blobSent(let descriptor): if json { blob(descriptor, "sent") }
        case .manifestPushed(let descriptor, let name):
            if json {
                line(["event": "push-manifest", "target": target, "reference": name, "digest": descriptor.digest.description,
                      "size": String(descriptor.size)], text: "")
            }
        case .bytesSent(_, let count):
            guard live else { return }
            let key = "\(target) → \(reference)"
            pushedBytes[key, default: 0] += Int64(count)
            if let index = running.firstIndex(where: { $0.stage == key }) {
                running[index].last = Self.megabytes(pushedBytes[key] ?? 0) + " sent"
            } else {
                running.append((key, "pushing", Date(), Self.megabytes(pushedBytes[key] ?? 0) + " sent"))
            }
        case .blobSending:
            break
        }
    }

    private mutating func handleImage(_ image: ExportedImage) {
        if live {
            running.removeAll { $0.stage.hasPrefix(image.target + " → ") }
            clearLive()
        }
        for push in image.pushes {
            let name = "\(push.reference)"
            line(["event": "image-pushed", "target": image.target, "reference": name, "digest": push.descriptor.digest.description,
                  "uploaded": String(push.uploaded), "present": String(push.present), "mounted": String(push.mounted),
                  "bytes": String(push.bytesSent)],
                 text: "[\(image.target)] pushing \(name): \(push.uploaded + push.present + push.mounted) blobs, "
                     + "\(Self.megabytes(push.bytesSent)) sent, \(push.present) already there, \(push.mounted) mounted")
            pushed.append("\(name)@\(push.descriptor.digest)")
        }
        if image.pushes.isEmpty, !image.names.isEmpty {
            line(["event": "image-stored", "target": image.target, "names": image.names.joined(separator: ","),
                  "digest": image.manifest.digest.description],
                 text: "[\(image.target)] stored \(image.names.joined(separator: ", ")) (\(image.manifest.digest))")
        }
        if live { drawLive() }
    }

    /// The digests pushed, one line per name.
    func pushSummary() {
        for reference in pushed {
            line(["event": "pushed", "reference": reference], text: "pushed \(reference)")
        }
    }

    /// `1.2 MB`, or `3.4 kB` below a megabyte.
    static func megabytes(_ bytes: Int64) -> String {
        bytes < 1_000_000 ? String(format: "%.1f kB", Double(bytes) / 1000) : String(format: "%.1f MB", Double(bytes) / 1_000_000)
    }

    private mutating func completeLines(_ stage: String, _ data: Data) -> [String] {
        let text = (partial[stage] ?? "") + String(decoding: data, as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        partial[stage] = lines.removeLast()
        return lines
    }

    // MARK: Live view

    private mutating func handleLive(_ event: ExecutionEvent) {
        switch event {
        case .stageStarted(let stage):
            running.append((stage, "starting", Date(), ""))
        case .stepStarted(let stage, _, let description):
            if let index = running.firstIndex(where: { $0.stage == stage }) {
                running[index].step = description
                running[index].since = Date()
                running[index].last = ""
            }
        case .output(let stage, _, let data):
            if let last = completeLines(stage, data).last(where: { !$0.isEmpty }),
               let index = running.firstIndex(where: { $0.stage == stage }) {
                running[index].last = last
            }
        case .stageFinished(let stage, let seconds):
            running.removeAll { $0.stage == stage }
            printAbove("\u{1B}[32m✔\u{1B}[0m \(stage) \(String(format: "%.1f", seconds)) s")
        case .stageFailed(let stage, let message):
            running.removeAll { $0.stage == stage }
            printAbove("\u{1B}[31m✘\u{1B}[0m \(stage): \(message)")
        case .cache, .warning, .note, .push, .imageExported:
            break
        }
        drawLive()
    }

    /// The ticker's redraw, until the reporter stops.
    mutating func redraw() {
        if !stopped { drawLive() }
    }

    mutating func stop() {
        stopped = true
        clearLive()
    }

    private mutating func clearLive() {
        guard drawnLines > 0 else { return }
        Output.standardError("\u{1B}[\(drawnLines)F\u{1B}[J")
        drawnLines = 0
    }

    private mutating func printAbove(_ text: String) {
        clearLive()
        Output.standardError(text + "\n")
    }

    private mutating func drawLive() {
        clearLive()
        var out = ""
        for item in running {
            let elapsed = String(format: "%5.1fs", Date().timeIntervalSince(item.since))
            var text = " => [\(item.stage)] \(item.step)"
            if !item.last.isEmpty { text += "  \u{1B}[2m\(item.last)\u{1B}[0m" }
            out += "\(elapsed)\(String(text.prefix(160)))\n"
        }
        drawnLines = running.count
        if !out.isEmpty { Output.standardError(out) }
    }

    // MARK: Lines

    func summary(stage: String, seconds: Double) {
        line(["event": "summary", "stage": stage, "seconds": String(format: "%.2f", seconds)],
             text: stage.padding(toLength: max(24, stage.count), withPad: " ", startingAt: 0)
                + String(format: " %6.1f s", seconds))
    }

    /// How many steps came from the cache.
    func cacheSummary() {
        guard hits + misses > 0 else { return }
        line(["event": "cache-summary", "hits": String(hits), "misses": String(misses)],
             text: "\(hits + misses) steps: \(hits) cached, \(misses) built")
    }

    private func line(_ fields: [String: String], text: String) {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            if let data = try? encoder.encode(fields) { Output.standardError(String(decoding: data, as: UTF8.self) + "\n") }
        } else {
            Output.standardError(text + "\n")
        }
    }
}
