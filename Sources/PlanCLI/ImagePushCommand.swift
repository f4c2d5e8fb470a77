import ArgumentParser
import Foundation
import PlanOCI

/// `plan image push SOURCE REF`: an image from a layout, an archive or the image store, to a registry.
struct ImagePushCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Push an image from an OCI layout, an archive or the image store to a registry.",
        discussion: """
            SOURCE is an OCI layout (oci:PATH[:NAME]), an OCI archive (oci-archive:PATH[:NAME]), a docker \
            archive (docker-archive:PATH[:NAME:TAG]) or the name of an image in plan's image store (one \
            pulled with `plan image pull`, or stored by `plan run --output type=image,name=…`): a plain \
            reference such as `app:1` is looked up in the store, normalised as docker does \
            (docker.io/library/app:1); it is never fetched from a registry — to copy an image from one \
            registry to another, use `plan image copy`.

            An image index is pushed whole, every platform with it (the pushed digest is the index's); \
            --platform pushes only that platform's manifest. A docker archive's image is pushed as an OCI \
            manifest over the archive's layers as they are.

            Blobs the registry has are not sent again, blobs known to be in another repository of the \
            registry are mounted, manifests go last: a push stopped midway (Ctrl-C, SIGTERM) leaves no \
            manifest, and a re-run sends only what is missing. Credentials come from the docker config \
            ($DOCKER_CONFIG/config.json, else ~/.docker/config.json). Progress goes to stderr; the pushed \
            reference, REGISTRY/REPOSITORY@DIGEST, to stdout.

            Examples:
              plan image push oci:out/app 127.0.0.1:5555/team/app:1 \\
                  --digestfile app.digest
              plan image push docker-archive:app.tar registry.example.com/team/app:1
              plan image push app:1 registry.example.com/team/app:1 --platform linux/arm64
            """)

    @Argument(help: ArgumentHelp("oci:PATH[:NAME], oci-archive:PATH[:NAME], docker-archive:PATH[:NAME:TAG] or a stored image's name.",
                                 valueName: "source"))
    var source: String

    @Argument(help: ArgumentHelp("The registry reference to push to (registry/repository[:tag]).", valueName: "ref"))
    var reference: String

    @OptionGroup var options: ImageOptions
    @OptionGroup var output: PushOutputOptions

    func validate() throws { _ = try ImagePushing.destination(reference) }

    func run() async throws {
        let destination = try ImagePushing.destination(reference)
        let selection: PlatformSelection = options.platform == nil ? .all : .one(try options.chosenPlatform())
        let parsed = try options.source(source)
        guard let stored = parsed as? RegistryImageSource else {
            try await ImagePushing.push(source, to: destination, options: options, output: output, usesStore: false) { client in
                try await PushableImage.load(from: parsed, selection: selection, client: client)
            }
            return
        }
        let name = stored.reference
        let storeDirectory = options.storeDirectory
        try await ImagePushing.push(source, to: destination, options: options, output: output, usesStore: true) { client in
            let store = try ImageOptions.store(at: storeDirectory)
            guard try store.digest(for: name) != nil else {
                throw ImageFailure(
                    "the image store (\(storeDirectory)) has no image named \(name); `plan image push` reads layouts, "
                        + "archives and stored images — to copy an image from a registry, use `plan image copy \(source) REF`")
            }
            return StagedPushableImage(image: try await PushableImage.fromStore(store, reference: name, selection: selection, client: client))
        }
    }
}
