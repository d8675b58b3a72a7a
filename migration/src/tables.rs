//! Identifiers of the tables and columns the migrations touch.

use sea_orm_migration::prelude::*;

/// v1 `mcp_servers`.
#[derive(DeriveIden, Clone, Copy)]
pub enum McpServers {
    /// The table.
    Table,
    /// Columns.
    Id,
    Name,
    Description,
    Transport,
    Command,
    Args,
    Env,
    Endpoint,
    SensitivityLevel,
    Metadata,
    CreatedAt,
    UpdatedAt,
}

/// v1 `mcp_tools`.
#[derive(DeriveIden, Clone, Copy)]
pub enum McpTools {
    /// The table.
    Table,
    /// Columns.
    Id,
    ServerId,
    Name,
    Description,
    InputSchema,
    SensitivityLevel,
    RequiresApproval,
    Metadata,
}

/// `audit_events`, v1 and v2 columns.
#[derive(DeriveIden, Clone, Copy)]
pub enum AuditEvents {
    /// The table.
    Table,
    /// Columns.
    Id,
    Timestamp,
    EventType,
    Severity,
    UserId,
    UserEmail,
    ServerId,
    ToolName,
    Decision,
    PolicyId,
    IpAddress,
    UserAgent,
    RequestId,
    Details,
    PrincipalOrg,
    ResourceProtocol,
    CapabilityId,
    CorrelationId,
    SourceNode,
    TargetNode,
    EstimatedCostMicros,
    ActualCostMicros,
}

/// `resources`.
#[derive(DeriveIden, Clone, Copy)]
pub enum Resources {
    /// The table.
    Table,
    /// Columns.
    Id,
    Name,
    Protocol,
    Endpoint,
    SensitivityLevel,
    Metadata,
    CreatedAt,
    UpdatedAt,
}

/// `capabilities`.
#[derive(DeriveIden, Clone, Copy)]
pub enum Capabilities {
    /// The table.
    Table,
    /// Columns.
    Id,
    ResourceId,
    Name,
    Description,
    InputSchema,
    OutputSchema,
    SensitivityLevel,
    Metadata,
}

/// `federation_nodes`.
#[derive(DeriveIden, Clone, Copy)]
pub enum FederationNodes {
    /// The table.
    Table,
    /// Columns.
    Id,
    NodeId,
    Name,
    Endpoint,
    TrustAnchorCert,
    Enabled,
    TrustedSince,
    RateLimitPerHour,
    Metadata,
    CreatedAt,
    UpdatedAt,
}

/// `cost_tracking`.
#[derive(DeriveIden, Clone, Copy)]
pub enum CostTracking {
    /// The table.
    Table,
    /// Columns.
    Id,
    Timestamp,
    PrincipalId,
    ResourceId,
    CapabilityId,
    EstimatedCostMicros,
    ActualCostMicros,
    Metadata,
}

/// `principal_budgets`.
#[derive(DeriveIden, Clone, Copy)]
pub enum PrincipalBudgets {
    /// The table.
    Table,
    /// Columns.
    PrincipalId,
    DailyBudgetMicros,
    MonthlyBudgetMicros,
    DailySpentMicros,
    MonthlySpentMicros,
    LastDailyReset,
    LastMonthlyReset,
    Currency,
    CreatedAt,
    UpdatedAt,
}

/// `cost_idempotency_keys`.
#[derive(DeriveIden, Clone, Copy)]
pub enum CostIdempotencyKeys {
    /// The table.
    Table,
    /// Columns.
    PrincipalId,
    Key,
    Payload,
    Outcome,
    CreatedAt,
}

/// `v1_copied_rows`: which v2 rows the v1 → v2 copy created, so that `down` removes only those.
#[derive(DeriveIden, Clone, Copy)]
pub enum V1CopiedRows {
    /// The table.
    Table,
    /// Columns.
    Entity,
    Id,
}

/// `retention_log`: what retention removed.
#[derive(DeriveIden, Clone, Copy)]
pub enum RetentionLog {
    /// The table.
    Table,
    /// Columns.
    Id,
    TableName,
    Removed,
    RangeStart,
    RangeEnd,
    RowCount,
    RemovedAt,
    RemovedBy,
}

/// `audit_seals`: sealed time ranges of the audit log.
#[derive(DeriveIden, Clone, Copy)]
pub enum AuditSeals {
    /// The table.
    Table,
    /// Columns.
    Seq,
    RangeStart,
    RangeEnd,
    EventCount,
    Digest,
    PreviousDigest,
    Algorithm,
    SealedAt,
}

/// `audit_seal_entries`: the hash of each sealed event.
#[derive(DeriveIden, Clone, Copy)]
pub enum AuditSealEntries {
    /// The table.
    Table,
    /// Columns.
    SealSeq,
    Timestamp,
    EventId,
    Hash,
}
