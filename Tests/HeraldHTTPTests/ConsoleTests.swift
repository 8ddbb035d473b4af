import Foundation
import HeraldCore
import HeraldHTTP
import HeraldTestSupport
import Testing

/// The operator console's files over real HTTP: types, security headers, where they are served.
/// The browser test (`scripts/console-test.sh`) drives the pages themselves.
@Suite struct ConsoleTests {
    static let files: [(path: String, type: String)] = [
        ("/console", "text/html"),
        ("/console/console.js", "text/javascript"),
        ("/console/console.css", "text/css"),
        ("/console/favicon.svg", "image/svg+xml"),
    ]

    @Test func servesItsFilesWithoutAKeyUnderAStrictPolicy() async throws {
        try await TestServices.withHerald({ try Fixtures.configuration(url: $0) }) { herald in
            for (path, type) in Self.files {
                let response = try await HTTP.get(herald.baseURL + path)
                #expect(response.status == 200, "\(path)")
                #expect(response.headers["content-type"]?.hasPrefix(type) == true, "\(path)")
                #expect(response.headers["x-content-type-options"] == "nosniff", "\(path)")
                #expect(response.headers["x-frame-options"] == "DENY", "\(path)")
                let policy = try #require(response.headers["content-security-policy"])
                #expect(policy.contains("default-src 'none'"))
                #expect(policy.contains("script-src 'self'"))
                #expect(policy.contains("require-trusted-types-for 'script'"))
                #expect(!policy.contains("unsafe"))
            }
            let page = try await HTTP.get(herald.baseURL + "/console")
            #expect(page.text.contains(#"<script src="/console/console.js""#))
            #expect(!page.text.contains("<script>"))
        }
    }

    @Test func servesOnlyItsOwnFiles() async throws {
        try await TestServices.withHerald({ try Fixtures.configuration(url: $0) }) { herald in
            for path in ["/console/nope.js", "/console/..%2Fopenapi.yaml", "/console/%2E%2E%2F%2E%2E%2FPackage.swift", "/console/index.htm"] {
                let response = try await HTTP.get(herald.baseURL + path)
                #expect(response.status == 404, "\(path)")
                #expect(response.errorMessage != nil, "\(path)")
            }
            // The pages are public; the API they call is not.
            #expect(try await HTTP.get(herald.baseURL + "/admin/v1/endpoints").status == 401)
        }
    }

    @Test func isOnTheAdminListenerWhenThereIsOne() async throws {
        try await TestServices.withHerald({ url in
            var configuration = try Fixtures.configuration(url: url)
            configuration.adminListen = ListenAddress(host: "127.0.0.1", port: 0)
            return configuration
        }) { herald in
            #expect(try await HTTP.get(herald.adminURL + "/console").status == 200)
            #expect(try await HTTP.get(herald.adminURL + "/console/console.js").status == 200)
            #expect(try await HTTP.get(herald.baseURL + "/console").status == 404)
            #expect(try await HTTP.get(herald.baseURL + "/console/console.js").status == 404)
        }
    }
}
