import Crypto
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
    var endpoints: RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        routes.get("console") { request, _ in
            try ConsoleAssets.response(for: "index.html", ifNoneMatch: request.headers[.ifNoneMatch])
        }
        routes.get("console/:asset") { request, context in
            try ConsoleAssets.response(for: try context.parameters.require("asset"), ifNoneMatch: request.headers[.ifNoneMatch])
        }
        return routes
    }
}

/// The console's files, read once from the `Resources/console` folder shipped with the module.
/// Only the files found there are served, looked up by name: a path never reaches the file system.
enum ConsoleAssets {
    struct Asset: Sendable {
        var contentType: String
        var bytes: ByteBuffer
        /// A strong validator: the first 16 bytes of the file's SHA-256, in hex.
        var eTag: String
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
            let digest = SHA256.hash(data: data).prefix(16).map { String(format: "%02x", $0) }.joined()
            assets[name] = Asset(contentType: contentType, bytes: ByteBuffer(bytes: data), eTag: "\"\(digest)\"")
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

    /// The file `name`, or 304 when `ifNoneMatch` names its current ETag.
    ///
    /// `no-cache` makes the browser ask again each time (so a new Herald's console is used at
    /// once after an upgrade); the ETag keeps that question cheap.
    static func response(for name: String, ifNoneMatch: String? = nil) throws(APIError) -> Response {
        guard let asset = assets[name] else { throw APIError(.notFound, "console: no file '\(name)'") }
        let headers: HTTPFields = [
            .contentType: asset.contentType,
            .contentSecurityPolicy: contentSecurityPolicy,
            .xContentTypeOptions: "nosniff",
            frameOptions: "DENY",
            referrerPolicy: "no-referrer",
            .cacheControl: "no-cache",
            .eTag: asset.eTag,
        ]
        if let ifNoneMatch, ifNoneMatch.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == asset.eTag }) {
            return Response(status: .notModified, headers: headers)
        }
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
