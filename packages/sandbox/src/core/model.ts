/**
 * Records shared between the sandbox's services. EC2 owns volumes and snapshots as resources; the EBS direct API
 * reads and creates snapshots too, and the block engine holds their content. Every record is plain JSON so that
 * the state store can journal it.
 */

export interface Tag {
  Key: string;
  Value: string;
}

export interface Account {
  accountId: string; // 12 digits
  name: string; // "production", "backup", ...
  accessKeyId: string;
  secretAccessKey: string;
}

export interface RegionInfo {
  name: string; // "us-east-1"
  zones: string[]; // ["us-east-1a", ...]
}

/** Caller of one request, resolved from the SigV4 access key (and session token for temporary credentials). */
export interface Principal {
  accountId: string;
  accessKeyId: string;
  /**
   * arn:aws:iam::<account>:root for the account's own key pair, arn:aws:iam::<account>:user/<name> for an IAM
   * user's access key, arn:aws:sts::<account>:assumed-role/<role>/<session> for AssumeRole credentials.
   */
  arn: string;
  /** Absent means root (the account's own key pair). */
  kind?: 'root' | 'user' | 'assumed-role' | 'federated-user';
  /**
   * GetCallerIdentity's UserId: the account id for root, AIDA... for users, AROA...:<session> for sessions,
   * <account>:<name> for federated users.
   */
  userId?: string;
  /** For assumed-role sessions: the role's ARN, session name and session tags (aws:PrincipalTag/...). */
  roleArn?: string;
  sessionName?: string;
  sessionTags?: Tag[];
  /** For federated users (GetFederationToken): the IAM user, or the account root, whose policies bound them. */
  federatedFrom?: string;
  /**
   * Session policies (the Policy of AssumeRole or GetFederationToken), as JSON documents: the session may do only
   * what its identity policies and these both allow. Absent for a role session without one; a federated user
   * always has the list, and an empty one allows nothing.
   */
  sessionPolicies?: string[];
}

export interface VolumeRecord {
  volumeId: string;
  ownerId: string;
  region: string;
  availabilityZone: string;
  sizeGiB: number;
  volumeType: string; // gp3, gp2, io1, ...
  iops?: number;
  throughput?: number;
  encrypted: boolean;
  kmsKeyId?: string;
  snapshotId?: string; // the snapshot the volume was created from
  createTime: string; // ISO
  /** Timestamps drive state: "creating" until availableAt, then "available"/"in-use"; deleted records are removed. */
  availableAt: string;
  attachments: Array<{
    instanceId: string;
    device: string;
    attachTime: string;
    deleteOnTermination: boolean;
    state: 'attaching' | 'attached' | 'detaching';
  }>;
  tags: Tag[];
}

export interface SnapshotRecord {
  snapshotId: string;
  ownerId: string;
  region: string;
  /** For copies AWS reports an arbitrary volume id; we keep the source volume's id for CreateSnapshot(s). */
  volumeId: string;
  volumeSizeGiB: number;
  description: string;
  encrypted: boolean;
  kmsKeyId?: string;
  startTime: string; // ISO
  /** pending until completesAt, then completed (unless state is "error"). Progress is derived from time. */
  completesAt: string;
  /** For EBS direct StartSnapshot: "pending" until CompleteSnapshot; then timing as above. */
  origin: 'ec2' | 'ebs-direct' | 'copy' | 'import';
  state?: 'error';
  stateMessage?: string;
  /** Lineage id: snapshots of one lineage can be compared with ListChangedBlocks. */
  lineage: string;
  parentSnapshotId?: string;
  /** createVolumePermission: account ids, and "all" for public. */
  sharedWith: string[];
  tags: Tag[];
  /**
   * Eventual consistency (admin: POST /_sandbox/consistency): DescribeSnapshots does not return the snapshot
   * before this instant. Other calls (CreateTags, CopySnapshot, ...) see it at once.
   */
  describableAt?: string;
  /** EBS direct StartSnapshot bookkeeping. */
  direct?: {
    status: 'pending' | 'completed' | 'error';
    timeoutAt: string;
    visibleAt: string; // "snapshot does not exist" before this instant
    clientToken?: string;
  };
}
