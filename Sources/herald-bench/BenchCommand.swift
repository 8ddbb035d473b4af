import ArgumentParser

/// `herald-bench`: the pieces of Herald's benchmark (`make bench`, `scripts/bench.sh`).
///
/// - `baseline`: the bare Hummingbird server Herald is compared with;
/// - `floor`: Herald's physical work without Herald (decode, SQLite, 202, libcurl POST, attempt);
/// - `sink`: a fast webhook receiver that timestamps each delivery;
/// - `load`: a load generator over libcurl's multi interface (Herald's own client).
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "herald-bench",
        abstract: "Benchmark tools for Herald: a baseline server, a same-work floor, a webhook sink and a load generator.",
        subcommands: [Baseline.self, Floor.self, Sink.self, Load.self]
    )
}
