using Orleans.Shuffle.Ids;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Tests.Ids;

public class IdValidatorTests
{
    public static IEnumerable<object[]> BadIds =>
    [
        [""], [".."], ["."], ["a/b"], ["../x"], ["a\\b"], [new string('a', 129)], ["é"], ["-a"], ["_a"], [".hidden"], ["a b"], ["a\0b"], ["aé"],
    ];

    [Theory]
    [MemberData(nameof(BadIds))]
    public void Rejects(string appId)
    {
        Assert.False(IdValidator.IsValidAppId(appId));
        var e = Assert.Throws<GridException>(() => IdValidator.ValidateAppId(appId));
        Assert.Equal(GridErrorCode.InvalidId, e.Code);
    }

    [Fact]
    public void Rejects_null()
    {
        Assert.False(IdValidator.IsValidAppId(null));
        Assert.Equal(GridErrorCode.InvalidId, Assert.Throws<GridException>(() => IdValidator.ValidateAppId(null)).Code);
    }

    [Theory]
    [InlineData("app-1.2_x")]
    [InlineData("a")]
    [InlineData("0")]
    [InlineData("A..B")]
    public void Accepts(string appId)
    {
        Assert.True(IdValidator.IsValidAppId(appId));
        IdValidator.ValidateAppId(appId);
    }

    [Fact]
    public void Accepts_exactly_128_characters()
    {
        Assert.True(IdValidator.IsValidAppId(new string('z', 128)));
    }

    [Fact]
    public void Numeric_ids_are_range_checked()
    {
        Assert.Equal(GridErrorCode.InvalidId, Assert.Throws<GridException>(() => IdValidator.ValidateShuffleId(-1)).Code);
        Assert.Equal(GridErrorCode.InvalidId, Assert.Throws<GridException>(() => IdValidator.ValidatePartition(-1, 0)).Code);
        Assert.Equal(GridErrorCode.InvalidId, Assert.Throws<GridException>(() => IdValidator.ValidatePartition(IdValidator.MaxPartitions, 0)).Code);
        Assert.Equal(GridErrorCode.InvalidId, Assert.Throws<GridException>(() => IdValidator.ValidatePartition(0, -1)).Code);
        Assert.Equal(GridErrorCode.InvalidId, Assert.Throws<GridException>(() => IdValidator.ValidateMapAttempt(-1, 0)).Code);
        Assert.Equal(GridErrorCode.InvalidId, Assert.Throws<GridException>(() => IdValidator.ValidateMapAttempt(0, -1)).Code);
        Assert.Equal(GridErrorCode.InvalidArgument, Assert.Throws<GridException>(() => IdValidator.ValidateShape(0, 1)).Code);
        Assert.Equal(GridErrorCode.InvalidArgument, Assert.Throws<GridException>(() => IdValidator.ValidateShape(1, 0)).Code);
        IdValidator.ValidateShuffleId(0);
        IdValidator.ValidatePartition(IdValidator.MaxPartitions - 1, 0);
        IdValidator.ValidateMapAttempt(0, 0);
        IdValidator.ValidateShape(1, 1);
    }
}
