import ArgumentParser

/// `herald`: the service and its tools. Each subcommand only parses arguments and calls into
/// the libraries.
@main
struct HeraldCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "herald",
        abstract: "Herald: a proactive messaging service (endpoints, flows, inject & notify, durable webhooks).",
        version: "0.1.0",
        subcommands: [
            Serve.self, Receive.self, Inject.self, Notify.self, Sessions.self, ScheduledCommand.self, DeliveriesCommand.self,
            EndpointsCommand.self, ReloadCommand.self, UsersCommand.self, AuditCommand.self, FlowCommand.self, ChannelCommand.self,
            TestCommand.self,
        ]
    )
}
