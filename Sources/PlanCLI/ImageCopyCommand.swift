import ArgumentParser
import Foundation
import PlanOCI

/// `plan image copy SOURCE DEST`: any image, a registry's too, to a registry.
struct ImageCopyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy an image to a registry (or a new OCI layout): from a registry, an OCI layout or an archive.",
        discussion: """
            SOURCE is a registry reference, oci:PATH[:NAME], oci-archive:PATH[:NAME] or \
            docker-archive:PATH[:NAME:TAG]; DEST is a registry reference, or oci:PATH[:NAME] for a new \
            OCI layout (PATH must not exist or be an empty folder: an existing layout is never replaced \
            or added to; the layout appears whole or not at all).

            As with `skopeo copy`, only the manifest for this machine's platform (or --platform's) is \
            copied from an image index, unless --all copies the whole index, every platform, keeping \
            the index's digest.

            From a registry, nothing goes through the disk: a blob is mounted when SOURCE and DEST are \
            on the same registry, else streamed from SOURCE's GET into DEST's upload. Blobs DEST has are \
            not sent again; manifests go last, so a copy stopped midway (Ctrl-C, SIGTERM) leaves no \
            manifest, and a re-run sends only what is missing. Credentials for both come from the \
            docker config ($DOCKER_CONFIG/config.json, else ~/.docker/config.json). Progress goes to \
            stderr; the pushed reference, REGISTRY/REPOSITORY@DIGEST, to stdout.

            Examples:
              plan image copy --all alpine:3.20 127.0.0.1:5555/mirror/alpine:3.20
              plan image copy oci-archive:app.tar registry.example.com/team/app:1 \\
                  --digestfile app.digest
            """)

    @Argument(help: ArgumentHelp("A registry reference, oci:PATH, oci-archive:PATH or docker-archive:PATH.", valueName: "source"))
    var source: String

    @Argument(help: ArgumentHelp("The registry reference to copy to (registry/repository[:tag]), or oci:PATH[:NAME].",
                                 valueName: "dest"))
    var destination: String

    @Flag(name: .customLong("all"), help: "Copy every platform of an image index, not only this machine's (skopeo's --all).")
    var all = false

    @OptionGroup var options: ImageOptions
    @OptionGroup var output: PushOutputOptions

    func validate() throws {
        if all, options.platform != nil { throw ValidationError("--all and --platform exclude each other") }
        _ = try ImagePushing.destination(destination, layouts: true)
    }

    func run() async throws {
        let destination = try ImagePushing.destination(self.destination, layouts: true)
        let selection: PlatformSelection = all ? .all : .one(try options.chosenPlatform())
        let parsed = try options.source(source)
        try await ImagePushing.push(source, to: destination, options: options, output: output, usesStore: false) { client in
            try await PushableImage.load(from: parsed, selection: selection, client: client)
        }
    }
}
