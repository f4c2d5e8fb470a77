/// How a plan's target is named as an image, the one rule for `plan compile --out-dir` (the tags in
/// docker-bake.json) and `plan run --push --tag-prefix` (the references pushed to): `PREFIX` +
/// `TARGET:TAG`, the prefix `PLAN/` when none is given.
public enum TargetImageName {
    /// The prefix when none is given: the plan's name and a slash.
    public static func defaultPrefix(planName: String) -> String { "\(planName)/" }

    /// `PREFIX` + `TARGET:TAG`, as written (not yet parsed as a reference).
    public static func name(prefix: String, target: String, tag: String = "latest") -> String {
        "\(prefix)\(target):\(tag)"
    }
}
