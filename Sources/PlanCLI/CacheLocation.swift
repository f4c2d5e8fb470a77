import Foundation

/// Where plan keeps images and caches: `--cache-dir`, else `$PLAN_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/plan`, else `~/.cache/plan`.
enum CacheLocation {
    static func directory(explicit: String?) -> String {
        let environment = ProcessInfo.processInfo.environment
        return explicit ?? environment["PLAN_CACHE_DIR"]
            ?? environment["XDG_CACHE_HOME"].map { $0 + "/plan" }
            ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.cache/plan")
    }
}
