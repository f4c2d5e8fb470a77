import PlanOCI

/// One step's changes in a stage's chain, as stored in the build cache.
struct StepLayer: Sendable {
    var descriptor: Descriptor
    /// The step key the layer was stored under (to drop the entry if the layer turns out corrupt).
    var key: String
    /// For the image history: `plan: stage api: run go build`.
    var createdBy: String
}
