import Foundation
import PlanCompiler
import PlanPaths
import PlanValues

/// Why an output cannot be written where `--output` asks, found before anything is built.
public struct OutputError: Error, CustomStringConvertible, Sendable {
    /// The `--output` spec as the user wrote its destination.
    public var destination: String
    public var reason: String
    /// How the user named it: `--output dest` or `--cache-to dir`.
    public var option = "--output dest"

    public var description: String { "\(option)=\(destination): \(reason)" }
}

/// Where an output goes, and whether plan may write there. The rule: plan replaces only what plan
/// wrote (a folder it marked, an OCI layout, an archive of its own deterministic shape), writes into a
/// missing or empty path, and otherwise refuses before building — unless `--force` (replace) or, for
/// `type=local` and `type=artifacts`, `merge=true` (BuildKit's local exporter: files written over,
/// others kept). An output never goes to the build context, a folder holding it, or where the plan
/// copies from.
public enum OutputDestination {
    /// The extended attribute plan sets on the folders it writes, so the next run may replace them.
    static let markerAttribute = "user.plan.output"

    /// `path` as an absolute, normalised path: `.` is the current folder, trailing slashes and `..` are
    /// resolved lexically.
    public static func absolute(_ path: String) -> String {
        PosixPath.normalize(PosixPath.isAbsolute(path) ? path : FileManager.default.currentDirectoryPath + "/" + path).path
    }

    /// `path` with the symbolic links of its deepest existing ancestor resolved, so that two spellings
    /// of one folder compare equal.
    static func resolved(_ path: String) -> String {
        var head = absolute(path)
        var tail: [String] = []
        while head != "/" {
            if let real = realpath(head, nil) {
                defer { free(real) }
                return ([String(cString: real)] + tail.reversed()).joined(separator: "/").replacingOccurrences(of: "//", with: "/")
            }
            tail.append((head as NSString).lastPathComponent)
            head = (head as NSString).deletingLastPathComponent
        }
        return "/" + tail.reversed().joined(separator: "/")
    }

    /// Whether `path` is `folder` or below it.
    static func isWithin(_ path: String, _ folder: String) -> Bool {
        folder == "/" || PosixPath.isInside(path, folder)
    }

    /// Checks every output before the build: the targets it needs, and the file system at its
    /// destination. Throws the first problem, naming the destination and the way out.
    public static func check(_ outputs: [OutputSpec], plan: BoundPlan, options: RunOptions, platforms: [Platform] = []) throws {
        try check(exporters: outputs.map(\.exporter), plan: plan, options: options, platforms: platforms)
    }

    /// The same for the outputs' exporters: the rules every output shares (one target, one path per
    /// output), then each exporter's own ``Exporter/check(plan:options:)``.
    static func check(exporters: [any Exporter], plan: BoundPlan, options: RunOptions, platforms: [Platform] = []) throws {
        let targets = plan.targets
        var seen: [String: String] = [:]
        for output in exporters {
            let destination = output.destination
            if output.needsOneTarget, targets.count != 1 {
                throw OutputError(destination: destination, reason: "type=\(output.typeName) writes one target, but the run builds "
                    + "\(targets.count) (\(targets.joined(separator: ", "))); choose one with --target. Nothing was built")
            }
            if output is any HostOutput {
                let path = resolved(destination)
                if let other = seen[path] {
                    throw OutputError(destination: destination, reason: "another --output (dest=\(other)) writes the same path")
                }
                seen[path] = destination
            }
            try output.check(platforms: platforms.isEmpty ? [plan.platform] : platforms)
            try output.check(plan: plan, options: options)
        }
        // --cache-to writes an OCI layout by the same rules (and usually rewrites its own).
        if case .directory(let cacheTo)? = options.cacheTo?.location {
            let layout = OCIExporter(destination: cacheTo)
            do {
                if let other = seen[resolved(cacheTo)] {
                    throw OutputError(destination: cacheTo, reason: "--output dest=\(other) writes the same path")
                }
                try layout.check(plan: plan, options: options)
            } catch var error as OutputError {
                error.option = "--cache-to dir"
                throw error
            }
        }
    }

    /// The destination is not a folder the build needs: not `/`, not the context or one holding it,
    /// not the cache, and not a path inside the context that the plan copies.
    static func checkPlace(_ output: any HostOutput, path: String, plan: BoundPlan, options: RunOptions) throws {
        let destination = output.destination
        let context = resolved(plan.contextDirectory)
        if path == "/" {
            throw OutputError(destination: destination, reason: "an output cannot replace `/`")
        }
        if isWithin(context, path) {
            throw OutputError(destination: destination, reason: path == context
                ? "this is the build context (\(context)); write the output to another folder"
                : "this folder holds the build context (\(context)); write the output to another folder")
        }
        let cache = resolved(options.cacheDirectory)
        if isWithin(cache, path) || isWithin(path, cache) {
            throw OutputError(destination: destination, reason: "this is plan's cache folder (\(cache)) or part of it")
        }
        guard isWithin(path, context) else { return }
        let relative = String(path.dropFirst(context.count + 1))
        let ignore = IgnoreMatcher(plan.ignore)
        guard !ignore.isExcluded(relative) else { return }
        for stage in plan.stages {
            for step in stage.steps {
                guard case .copy(let copy) = step.action, copy.source == .context else { continue }
                for source in copy.sources {
                    // The literal folder a glob starts from: what the copy may read.
                    let literal = source.split(separator: "/").prefix { part in !part.contains { "*?[".contains($0) } }
                        .filter { $0 != "." }.joined(separator: "/")
                    if literal.isEmpty || isWithin(relative, literal) || isWithin(literal, relative) {
                        throw OutputError(destination: destination, reason: "this is inside the build context, and stage "
                            + "`\(stage.name)` copies `\(source)` from it (\(step.location)): the output would change what the "
                            + "next build copies. Write it outside the context, or add `\(relative)` to the plan's `ignore`")
                    }
                }
            }
        }
    }

    /// What is at the destination now may be written: nothing, an empty folder or file, or what plan
    /// wrote; anything else only with `merge=true` (folders of `type=local`/`type=artifacts`) or `--force`.
    static func checkExisting(_ output: any HostOutput, force: Bool) throws {
        let destination = output.destination
        let path = absolute(destination)
        // The deepest existing ancestor must be a folder, or no folder can be made there.
        var ancestor = (path as NSString).deletingLastPathComponent
        var info = stat()
        while ancestor != "/", lstat(ancestor, &info) != 0 { ancestor = (ancestor as NSString).deletingLastPathComponent }
        if stat(ancestor, &info) == 0, (info.st_mode & S_IFMT) != S_IFDIR {
            throw OutputError(destination: destination, reason: "`\(ancestor)` is a file, not a folder")
        }
        if output.writesArchive, destination.hasSuffix("/") {
            throw OutputError(destination: destination, reason: "type=\(output.typeName) writes an archive file, and this names a folder")
        }
        guard lstat(path, &info) == 0 else { return }
        let kind = info.st_mode & S_IFMT
        let wayOut = output.merges != nil
            ? "choose a new or empty folder, add merge=true to write over its files and keep the others, or pass --force to replace it"
            : "choose a new path, or pass --force to replace it"
        if output.writesArchive {
            if kind == S_IFDIR {
                throw OutputError(destination: destination, reason: "this is a folder; type=\(output.typeName) writes an archive file here")
            }
            guard kind == S_IFREG else {
                if force { return }
                throw OutputError(destination: destination, reason: "this is not a regular file; \(wayOut). Nothing was built")
            }
            if info.st_size == 0 || isPlanArchive(path) || force { return }
            throw OutputError(destination: destination, reason: "this file was not written by plan (it is not an image archive of plan's); "
                + "\(wayOut). Nothing was built")
        }
        if kind == S_IFDIR {
            let entries = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
            if output.merges == true { return }
            // Replacing swaps folders: the current folder cannot be swapped away from under the user.
            if isWithin(resolved("."), resolved(path)) {
                throw OutputError(destination: destination, reason: "this is the current folder (or holds it), which plan cannot "
                    + "replace" + (output.merges != nil ? "; add merge=true to write into it" : ""))
            }
            if entries.isEmpty || isPlanFolder(path, output: output) || force { return }
            let shown = entries.prefix(3).map { "`\($0)`" }.joined(separator: ", ") + (entries.count > 3 ? ", …" : "")
            throw OutputError(destination: destination, reason: "this folder holds files plan did not write (\(shown)); \(wayOut). "
                + "Nothing was built")
        }
        if force { return }
        throw OutputError(destination: destination, reason: (kind == S_IFLNK ? "this is a symbolic link" : "this is a file")
            + ", not a folder plan wrote; \(wayOut). Nothing was built")
    }

    /// A folder plan wrote: marked by plan, or one the output recognises as its own (an OCI layout).
    static func isPlanFolder(_ path: String, output: any HostOutput) -> Bool {
        if let lgetxattr = lgetxattrFunction, lgetxattr(path, markerAttribute, nil, 0) >= 0 { return true }
        return output.isOwnFolder(path)
    }

    /// Marks a folder as written by plan (where the file system keeps extended attributes).
    static func mark(_ path: String) {
        let value: [UInt8] = [UInt8(ascii: "1")]
        _ = value.withUnsafeBytes { lsetxattrFunction?(path, markerAttribute, $0.baseAddress, 1, 0) }
    }

    // glibc's lgetxattr and lsetxattr, which the Glibc module does not export (sys/xattr.h is not in it).
    typealias LGetXattr = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeMutableRawPointer?, Int) -> Int
    typealias LSetXattr = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeRawPointer?, Int, Int32) -> Int32
    static let lgetxattrFunction: LGetXattr? = {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "lgetxattr") else { return nil }
        return unsafeBitCast(symbol, to: LGetXattr.self)
    }()
    static let lsetxattrFunction: LSetXattr? = {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "lsetxattr") else { return nil }
        return unsafeBitCast(symbol, to: LSetXattr.self)
    }()

    /// An archive of the shape plan writes: a tar whose first member is owned by root, dated 0, and is
    /// an OCI archive's `blobs/` or a docker archive's `HEX.json`/`HEX.tar`.
    static func isPlanArchive(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        guard let header = try? handle.read(upToCount: 512), header.count == 512 else { return false }
        let bytes = [UInt8](header)
        func field(_ offset: Int, _ length: Int) -> String {
            String(decoding: bytes[offset..<offset + length].prefix { $0 != 0 }, as: UTF8.self)
                .trimmingCharacters(in: .whitespaces)
        }
        guard field(257, 5) == "ustar", Int(field(136, 12), radix: 8) == 0, Int(field(108, 8), radix: 8) == 0 else { return false }
        let name = field(0, 100)
        if name == "blobs/" { return true }
        let hex = name.prefix { $0.isHexDigit }
        return hex.count == 64 && (name.dropFirst(64) == ".json" || name.dropFirst(64) == ".tar")
    }
}
