import PlanCLI

await PlanCommand.run()
