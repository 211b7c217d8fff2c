import Foundation
import StrataBench
import StrataStress

/// `strata <command> [flags]`. Exit code 0 on success; otherwise one clear
/// line on stderr and a non-zero code.
func fail(_ message: String, code: Int32 = 1) -> Never {
    FileHandle.standardError.write(Data("strata: \(message)\n".utf8))
    exit(code)
}

let usage = """
usage: strata <command> [--db=PATH] [flags]
commands:
  bench    db_bench-compatible benchmark (--benchmarks=fillseq,fillrandom,overwrite,readrandom,readseq,fillsync,
           readwhilewriting,seekrandom,deleteseq,deleterandom,flush,stats
           --num --key_size --value_size --threads --compression_type=lz4|none --sync --use_existing_db
           --seek_nexts --statistics --max_background_compactions --max_bytes_for_level_base --target_file_size_base
           --mmap_read --memtable_bloom_size_ratio ...)
           message workloads: --benchmarks=msg_enqueue,msg_roundtrip --num --clients=1,8,64 --value_size=100,1024
           --backend=lsm,sqlite,memory --commit=sync,async,memory --sqlite_sync=full,normal --batch=N
  get      print the value of --key
  put      set --key to --value
  delete   remove --key
  dump-manifest  list column families (id, name, options), levels and files, log number, counters
  scan     print keys and values (--from, --to, --limit)
  stats    print the database's statistics
  compact  compact a key range (--from, --to; default everything) down to the bottom level
  checkpoint --to=PATH   write an openable copy (hard links where possible)
  verify   read every block of every table, checking checksums
  backup create|list|verify|restore|purge --dir=BACKUPS [--db=PATH] [--id=N] [--to=PATH] [--keep=N] [--overwrite]
  export   write a message store's entities and messages as JSON Lines (--db=STORE --to=FILE [--backend=lsm|sqlite])
  import   read an export into a store (--db=STORE --from=FILE [--replace]; default merges, skipping known ids)
  purge    remove every message of --queue=NAME (asks for 'yes' unless --yes)
  queues   list a store's queues and subscriptions with their statistics
  demo     broker demo on a message store (--store=URL or STRATA_STORE, --db=PATH for an LSM store; default lsm:./data/demo-store; --messages=N)
  stress   crash test: --mode=blackbox (SIGKILL loop), --mode=powerloss (in-process) or --mode=messages
           (broker child on an LSM message store, SIGKILL loop) --cycles=N
"""

var args = Array(CommandLine.arguments.dropFirst())
guard let command = args.first else { fail("no command given\n\(usage)", code: 2) }
args.removeFirst()

switch command {
case "bench" where args.contains(where: { $0.hasPrefix("--benchmarks=msg_") }):
    switch MessageBenchFlags.parse(args) {
    case .failure(let e): fail(e.description, code: 2)
    case .success(let flags):
        if await !MessageBenchRunner(flags: flags).run() { exit(1) }
    }
case "bench":
    switch BenchFlags.parse(args) {
    case .failure(let e): fail(e.description, code: 2)
    case .success(let flags):
        if !BenchRunner(flags: flags).run() { exit(1) }
    }
case "get", "put", "delete", "scan", "stats":
    runDataCommand(command, args)
case "dump-manifest":
    runDumpManifest(args)
case "compact", "checkpoint", "verify":
    runMaintenanceCommand(command, args)
case "backup":
    runBackupCommand(args)
case "stress":
    await runStress(args)
case "demo":
    await runDemo(args)
case "export", "import", "purge", "queues":
    await runMessageCommand(command, args)
case "stress-child":
    runStressChild(args)
case "stress-messages-child":
    exit(await MessageStoreStress.childMain(args))
case "help", "--help", "-h":
    print(usage)
default:
    fail("unknown command '\(command)'\n\(usage)", code: 2)
}
