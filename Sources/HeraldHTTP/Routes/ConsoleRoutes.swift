import Foundation
import HTTPTypes
import HeraldCore
import Hummingbird
import NIOCore

/// `GET /console` and its assets under `/console/…`: the operator console, static pages that
/// call the admin API from the browser.
///
/// The pages hold no data and need no key; every call they make sends the operator's admin key
/// as `X-API-Key`, so the console is exactly as protected as the admin API. It is mounted beside
/// the admin routes, so with `admin.listen` set it is only on the admin listener.
struct ConsoleRoutes<Context: RequestContext> {
    func addRoutes(to router: Router<Context>) {
        router.get("console") { _, _ in try ConsoleAssets.response(for: "index.html") }
        router.get("console/:asset") { _, context in
            try ConsoleAssets.response(for: try context.parameters.require("asset"))
        }
    }
}

/// The console's files, read once from the `Resources/console` folder shipped with the module.
/// Only the files found there are served, looked up by name: a path never reaches the file system.
enum ConsoleAssets {
    struct Asset: Sendable {
        var contentType: String
        var bytes: ByteBuffer
    }

    static let assets: [String: Asset] = {
        guard let folder = Bundle.module.url(forResource: "console", withExtension: nil, subdirectory: "Resources"),
            let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path)
        else { return [:] }
        var assets: [String: Asset] = [:]
        for name in names {
            guard let contentType = contentType(of: name),
                let data = try? Data(contentsOf: folder.appendingPathComponent(name))
            else { continue }
            assets[name] = Asset(contentType: contentType, bytes: ByteBuffer(bytes: data))
        }
        return assets
    }()

    /// The page may load its own scripts, styles and images and call its own origin, nothing
    /// else: no inline script, no framing, no form posting elsewhere. Trusted Types make a
    /// string assigned to `innerHTML` an error, so user content can only ever be text.
    static let contentSecurityPolicy = [
        "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self'", "connect-src 'self'",
        "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
        "require-trusted-types-for 'script'", "trusted-types 'none'",
    ].joined(separator: "; ")

    static func response(for name: String) throws(APIError) -> Response {
        guard let asset = assets[name] else { throw APIError(.notFound, "console: no file '\(name)'") }
        let headers: HTTPFields = [
            .contentType: asset.contentType,
            .contentSecurityPolicy: contentSecurityPolicy,
            .xContentTypeOptions: "nosniff",
            frameOptions: "DENY",
            referrerPolicy: "no-referrer",
            .cacheControl: "no-cache",
        ]
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: asset.bytes))
    }

    private static let frameOptions = HTTPField.Name("X-Frame-Options")!
    private static let referrerPolicy = HTTPField.Name("Referrer-Policy")!

    static func contentType(of name: String) -> String? {
        switch name.split(separator: ".").last {
        case "html": "text/html; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "js": "text/javascript; charset=utf-8"
        case "svg": "image/svg+xml"
        default: nil
        }
    }
}
