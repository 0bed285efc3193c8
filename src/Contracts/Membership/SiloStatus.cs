namespace Orleans.Shuffle.Membership;

/// <summary>Orleans' silo statuses, with Orleans' numbers (DynamoDB stores them as ints).</summary>
public enum SiloStatus
{
    None = 0,
    Created = 1,
    Joining = 2,
    Active = 3,
    ShuttingDown = 4,
    Stopping = 5,
    Dead = 6,
}
