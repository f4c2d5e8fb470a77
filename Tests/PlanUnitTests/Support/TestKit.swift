// Every file of this target sees the shared test kit (TestSupport, OCITestKit, LayerTestSupport, ChildProcess).
@_exported import PlanTestKit
