import HeraldCore
import Hummingbird
import Logging
import ServiceLifecycle

/// Serves an assembled ``Herald``. With `admin.listen` set, the admin routes get a listener of
/// their own (run as one of the application's services) and are absent from the public one.
///
/// `onServerRunning` gets each listener's port once it listens (useful with port 0).
public func buildApplication(
    herald: Herald, onServerRunning: @escaping @Sendable (HeraldListener, Int) async -> Void = { _, _ in }
) -> some ApplicationProtocol {
    let configuration = herald.configuration
    let router = Router(context: BasicRequestContext.self)
    addTracing(to: router)
    router.add(middleware: JSONErrorMiddleware())
    router.addRoutes(HealthRoutes(herald: herald).endpoints)

    var services = herald.services
    if let adminListen = configuration.adminListen {
        let adminRouter = Router(context: BasicRequestContext.self)
        addTracing(to: adminRouter)
        adminRouter.add(middleware: JSONErrorMiddleware())
        adminRouter.addRoutes(HealthRoutes(herald: herald).endpoints)
        addAdminRoutes(to: adminRouter, herald: herald)
        let adminApp = Application(
            router: adminRouter,
            configuration: .init(address: .hostname(adminListen.host, port: adminListen.port)),
            onServerRunning: { channel in await onServerRunning(.admin, channel.localAddress?.port ?? 0) },
            logger: herald.logger
        )
        services.append(adminApp)
    } else {
        addAdminRoutes(to: router, herald: herald)
    }
    router.addRoutes(EndpointRoutes(herald: herald).endpoints)

    var application = Application(
        router: router,
        configuration: .init(address: .hostname(configuration.listen.host, port: configuration.listen.port)),
        services: services,
        onServerRunning: { channel in await onServerRunning(.main, channel.localAddress?.port ?? 0) },
        logger: herald.logger
    )
    application.beforeServerStarts { try await herald.prepare() }
    return application
}

/// The admin side: `/metrics` and the console (each checks the key its own way: the metrics
/// take a bearer token too, the console's pages need none), and one group, behind the admin
/// key, for inject, notify and `/admin/v1`.
private func addAdminRoutes(to router: Router<BasicRequestContext>, herald: Herald) {
    router.addRoutes(MetricsRoutes(herald: herald).endpoints)
    router.addRoutes(ConsoleRoutes().endpoints)
    let admin = router.group().add(middleware: AdminKeyMiddleware(keys: herald.adminKeys))
    admin.addRoutes(InjectNotifyRoutes(herald: herald).endpoints)
    admin.addRoutes(AdminRoutes(herald: herald).endpoints, atPath: "admin/v1")
    admin.addRoutes(OperatorRoutes(herald: herald).endpoints, atPath: "admin/v1")
    admin.addRoutes(ScheduledRoutes(herald: herald).endpoints, atPath: "admin/v1")
    admin.addRoutes(ConfigurationRoutes(herald: herald).endpoints, atPath: "admin/v1")
}

/// While tracing is on, every request is a server span (Hummingbird's own middleware), which
/// continues the caller's `traceparent`. Query values that may be secrets (a channel's
/// verification handshake) are recorded as `REDACTED`; headers and bodies never are.
private func addTracing(to router: Router<BasicRequestContext>) {
    guard HeraldTracing.isEnabled else { return }
    router.add(middleware: TracingMiddleware(redactingQueryParameters: ["hub.verify_token", "hub.challenge", "token", "key", "api_key", "secret"]))
}

/// Herald's HTTP listeners: `listen`, and `admin.listen` when it is set.
public enum HeraldListener: Sendable, Hashable {
    case main
    case admin
}
