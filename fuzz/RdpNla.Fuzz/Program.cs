using RdpNla.Fuzz;
using SharpFuzz;

// Usage:
//   RdpNla.Fuzz list                         the target names
//   RdpNla.Fuzz run TARGET                   under afl-fuzz (SharpFuzz out-of-process fork server)
//   RdpNla.Fuzz replay TARGET PATH...        runs files (or every file of directories) once, in process;
//                                            exit 1 and the exception for each input that crashes
//   RdpNla.Fuzz seeds VECTORS_DIR OUT_DIR    writes the initial corpus, OUT_DIR/TARGET/*
if (args.Length >= 1 && args[0] == "list")
{
    foreach (string name in Targets.All.Keys)
    {
        Console.WriteLine(name);
    }

    return 0;
}

if (args.Length == 3 && args[0] == "seeds")
{
    int count = Seeds.Write(args[1], args[2]);
    Console.WriteLine($"{count} seed files written to {args[2]}");
    return 0;
}

if (args.Length >= 2 && args[0] is "run" or "replay" && Targets.All.TryGetValue(args[1], out Action<byte[]>? target))
{
    if (args[0] == "run")
    {
        Fuzzer.OutOfProcess.Run(stream =>
        {
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            target(buffer.ToArray());
        });
        return 0;
    }

    CredSspServer.Verbose = Environment.GetEnvironmentVariable("RDPNLA_FUZZ_VERBOSE") == "1";
    int crashes = 0;
    int inputs = 0;
    var slowest = (Path: "", Time: TimeSpan.Zero);
    foreach (string path in args.Skip(2).SelectMany(p => Directory.Exists(p) ? Directory.EnumerateFiles(p).Order(StringComparer.Ordinal) : (IEnumerable<string>)[p]))
    {
        if (Path.GetFileName(path) == "README.txt")
        {
            continue;
        }

        inputs++;
        byte[] input = File.ReadAllBytes(path);
        try
        {
            target(input);
        }
#pragma warning disable CA1031 // Reporting every kind of failure is the point of replay.
        catch (Exception e)
#pragma warning restore CA1031
        {
            crashes++;
            Console.WriteLine($"CRASH {path}: {e}");
            continue;
        }

        // Time a second, warm run (the first one pays for JIT compilation).
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        target(input);
        TimeSpan elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started);
        if (elapsed > slowest.Time)
        {
            slowest = (path, elapsed);
        }
    }

    if (inputs > 0)
    {
        Console.WriteLine($"slowest input (warm run): {slowest.Time.TotalMilliseconds:F2} ms ({slowest.Path})");
    }

    Console.WriteLine($"{args[1]}: {inputs} inputs, {crashes} crashes");
    return crashes == 0 ? 0 : 1;
}

Console.Error.WriteLine("usage: RdpNla.Fuzz list | run TARGET | replay TARGET PATH... | seeds VECTORS_DIR OUT_DIR");
Console.Error.WriteLine("targets: " + string.Join(", ", Targets.All.Keys));
return 2;
