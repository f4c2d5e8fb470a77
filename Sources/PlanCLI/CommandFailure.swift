import ArgumentParser

/// Running a command's work: a usage error stays one (exit 2); anything else is one `error:` line, exit 1.
enum CommandFailure {
    static func reporting<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw report(error)
        }
    }

    static func reporting<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            throw report(error)
        }
    }

    private static func report(_ error: any Error) -> any Error {
        if error is ValidationError || error is ExitCode { return error }
        Output.standardError("error: \(error)\n")
        return ExitCode(1)
    }
}
