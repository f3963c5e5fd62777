using Npgsql;
using RdpNla.Server.Storage.Postgres;

namespace RdpNla.Tests.Storage;

/// <summary>What rdpnla adds to a PostgreSQL connection string (no server needed).</summary>
public sealed class PostgresSettingsTests
{
    [Fact]
    public void ApplyDefaults_PlainString_NamesTheApplicationSkipsTheResetAndPreparesStatements()
    {
        var settings = new NpgsqlConnectionStringBuilder("Host=db1;Username=rdpnla;Database=rdpnla");

        PostgresDatabase.ApplyDefaults(settings);

        Assert.Equal(("rdpnla", true, PostgresDatabase.DefaultMaxAutoPrepare), (settings.ApplicationName, settings.NoResetOnClose, settings.MaxAutoPrepare));
        Assert.True(PostgresDatabase.DefaultMaxAutoPrepare > 0);
    }

    [Theory]
    [InlineData("Host=db1;Max Auto Prepare=0", 0)]
    [InlineData("Host=db1;MaxAutoPrepare=5", 5)]
    [InlineData("Host=db1;max auto prepare=7;Application Name=front", 7)]
    public void ApplyDefaults_StringSetsAutoPreparation_KeepsItsValue(string connectionString, int expected)
    {
        var settings = new NpgsqlConnectionStringBuilder(connectionString);

        PostgresDatabase.ApplyDefaults(settings);

        Assert.Equal(expected, settings.MaxAutoPrepare);
    }

    [Fact]
    public void ApplyDefaults_StringNamesTheApplication_KeepsTheName()
    {
        var settings = new NpgsqlConnectionStringBuilder("Host=db1;Application Name=front-door-2");

        PostgresDatabase.ApplyDefaults(settings);

        Assert.Equal("front-door-2", settings.ApplicationName);
    }
}
