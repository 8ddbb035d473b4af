import Foundation
import HeraldCore
import HeraldHTTP
import HeraldTestSupport
import Testing

/// The operator console's files over real HTTP: types, security headers, caching, where they are
/// served. The browser test (`scripts/console-test.sh`) drives the pages themselves.
@Suite struct ConsoleTests {
    static let files: [(path: String, type: String)] = [
        ("/console", "text/html; charset=utf-8"),
        ("/console/index.html", "text/html; charset=utf-8"),
        ("/console/console.js", "text/javascript; charset=utf-8"),
        ("/console/console.css", "text/css; charset=utf-8"),
        ("/console/favicon.svg", "image/svg+xml"),
    ]
    static let key = ["X-API-Key": Fixtures.adminKey]

    @Test func servesItsFilesWithoutAKeyUnderAStrictPolicy() async throws {
        try await TestServices.withHerald({ try Fixtures.configuration(url: $0) }) { herald in
            for (path, type) in Self.files {
                let response = try await HTTP.get(herald.baseURL + path)
                #expect(response.status == 200, "\(path)")
                #expect(response.headers["content-type"] == type, "\(path)")
                #expect(!response.bytes.isEmpty, "\(path)")
                #expect(response.headers["x-content-type-options"] == "nosniff", "\(path)")
                #expect(response.headers["x-frame-options"] == "DENY", "\(path)")
                #expect(response.headers["referrer-policy"] == "no-referrer", "\(path)")
                #expect(response.headers["cache-control"] == "no-cache", "\(path)")
                let policy = try #require(response.headers["content-security-policy"], "\(path)")
                let directives = Set(policy.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) })
                for directive in [
                    "default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "form-action 'none'",
                    "frame-ancestors 'none'", "require-trusted-types-for 'script'",
                ] {
                    #expect(directives.contains(directive), "\(path): \(policy)")
                }
                #expect(!policy.contains("unsafe"), "\(path): \(policy)")
            }
        }
    }

    @Test func thePageLoadsOnlyItsOwnFilesAndHasNoInlineCode() async throws {
        try await TestServices.withHerald({ try Fixtures.configuration(url: $0) }) { herald in
            let page = try await HTTP.get(herald.baseURL + "/console").text
            #expect(page.hasPrefix("<!doctype html>"))
            #expect(page.contains(#"<script src="/console/console.js" defer></script>"#))
            #expect(page.contains(#"<link rel="stylesheet" href="/console/console.css">"#))
            // One script element, and it has a src: nothing inline for an injection to imitate.
            #expect(page.components(separatedBy: "<script").count == 2)
            #expect(page.range(of: #"\son[a-z]+\s*="#, options: .regularExpression) == nil, "an inline event handler")
            #expect(page.range(of: #"\sstyle\s*="#, options: .regularExpression) == nil, "an inline style")
            // Every form posts nowhere (form-action 'none'): the key can never end up in a URL.
            #expect(!page.contains(#"method="get""#))
        }
    }

    @Test func revalidatesWithAnETag() async throws {
        try await TestServices.withHerald({ try Fixtures.configuration(url: $0) }) { herald in
            let first = try await HTTP.get(herald.baseURL + "/console/console.js")
            let eTag = try #require(first.headers["etag"])
            #expect(eTag.hasPrefix("\"") && eTag.hasSuffix("\"") && eTag.count == 34)
            let again = try await HTTP.get(herald.baseURL + "/console/console.js", headers: ["If-None-Match": eTag])
            #expect(again.status == 304)
            #expect(again.bytes.isEmpty)
            #expect(again.headers["content-security-policy"] != nil)
            let stale = try await HTTP.get(herald.baseURL + "/console/console.js", headers: ["If-None-Match": "\"0000\""])
            #expect(stale.status == 200)
            #expect(stale.bytes == first.bytes)
            let other = try await HTTP.get(herald.baseURL + "/console/console.css")
            #expect(other.headers["etag"] != eTag)
        }
    }

    @Test func servesOnlyItsOwnFiles() async throws {
        try await TestServices.withHerald({ try Fixtures.configuration(url: $0) }) { herald in
            for path in [
                "/console/nope.js", "/console/..%2Fopenapi.yaml", "/console/%2E%2E%2F%2E%2E%2FPackage.swift", "/console/index.htm",
                "/console/console.js/x",
            ] {
                let response = try await HTTP.get(herald.baseURL + path)
                #expect(response.status == 404, "\(path)")
                #expect(response.errorMessage != nil, "\(path)")
            }
            // The pages are public; the API they call is not.
            let withoutKey = try await HTTP.get(herald.baseURL + "/admin/v1/endpoints")
            #expect(withoutKey.status == 401)
            let withKey = try await HTTP.get(herald.baseURL + "/admin/v1/endpoints", headers: Self.key)
            #expect(withKey.status == 200)
        }
    }

    @Test func isOnlyOnTheAdminListenerWhenThereIsOne() async throws {
        try await TestServices.withHerald({ url in
            var configuration = try Fixtures.configuration(url: url)
            configuration.adminListen = ListenAddress(host: "127.0.0.1", port: 0)
            return configuration
        }) { herald in
            #expect(herald.adminPort != herald.port)
            for (path, type) in Self.files {
                let admin = try await HTTP.get(herald.adminURL + path)
                #expect(admin.status == 200, "\(path)")
                #expect(admin.headers["content-type"] == type, "\(path)")
                #expect(admin.headers["content-security-policy"] != nil, "\(path)")
                let main = try await HTTP.get(herald.baseURL + path)
                #expect(main.status == 404, "\(path) on the public listener")
            }
            // The API the console calls is on the same listener as the console, and only there.
            let endpoints = try await HTTP.get(herald.adminURL + "/admin/v1/endpoints", headers: Self.key)
            #expect(endpoints.status == 200)
            let publicEndpoints = try await HTTP.get(herald.baseURL + "/admin/v1/endpoints", headers: Self.key)
            #expect(publicEndpoints.status == 404)
        }
    }
}
