import type { Handler } from './call.js';
import {
  authorizeSecurityGroupIngress,
  createSecurityGroup,
  deleteSecurityGroup,
  describeSecurityGroups,
} from './groups.js';
import { deregisterImage, describeImages, registerImage } from './images.js';
import { cancelImportTask, describeImportSnapshotTasks, importSnapshot } from './import-snapshot.js';
import {
  describeInstanceAttribute,
  modifyInstanceAttribute,
  startInstances,
  stopInstances,
  terminateInstances,
} from './instance-actions.js';
import {
  associateIamInstanceProfile,
  describeIamInstanceProfileAssociations,
  disassociateIamInstanceProfile,
} from './instance-profiles.js';
import { describeInstances, runInstances } from './instances.js';
import { createKeyPair, deleteKeyPair, describeKeyPairs, importKeyPair } from './keypairs.js';
import { describeAvailabilityZones, describeRegions } from './regions.js';
import {
  describeSnapshotAttribute,
  modifySnapshotAttribute,
  resetSnapshotAttribute,
} from './snapshot-attrs.js';
import { copySnapshot } from './snapshot-copy.js';
import { createSnapshot, createSnapshots, deleteSnapshot, describeSnapshots } from './snapshots.js';
import { createTags, deleteTags, describeTags } from './tags.js';
import { attachVolume, detachVolume } from './volume-attachments.js';
import { describeVolumesModifications, modifyVolume } from './volume-modifications.js';
import { createVolume, deleteVolume, describeVolumes } from './volumes.js';
import { createSubnet, createVpc, deleteSubnet, deleteVpc, describeSubnets, describeVpcs } from './vpcs.js';

/** Every EC2 action the sandbox answers, by its Query `Action` name. */
export const HANDLERS: Record<string, Handler> = {
  DescribeRegions: describeRegions,
  DescribeAvailabilityZones: describeAvailabilityZones,
  CreateVpc: createVpc,
  DescribeVpcs: describeVpcs,
  DeleteVpc: deleteVpc,
  CreateSubnet: createSubnet,
  DescribeSubnets: describeSubnets,
  DeleteSubnet: deleteSubnet,
  CreateSecurityGroup: createSecurityGroup,
  DescribeSecurityGroups: describeSecurityGroups,
  DeleteSecurityGroup: deleteSecurityGroup,
  AuthorizeSecurityGroupIngress: authorizeSecurityGroupIngress,
  CreateKeyPair: createKeyPair,
  ImportKeyPair: importKeyPair,
  DescribeKeyPairs: describeKeyPairs,
  DeleteKeyPair: deleteKeyPair,
  DescribeImages: describeImages,
  RegisterImage: registerImage,
  DeregisterImage: deregisterImage,
  RunInstances: runInstances,
  DescribeInstances: describeInstances,
  StartInstances: startInstances,
  StopInstances: stopInstances,
  TerminateInstances: terminateInstances,
  DescribeInstanceAttribute: describeInstanceAttribute,
  ModifyInstanceAttribute: modifyInstanceAttribute,
  AssociateIamInstanceProfile: associateIamInstanceProfile,
  DescribeIamInstanceProfileAssociations: describeIamInstanceProfileAssociations,
  DisassociateIamInstanceProfile: disassociateIamInstanceProfile,
  CreateVolume: createVolume,
  AttachVolume: attachVolume,
  DetachVolume: detachVolume,
  DescribeVolumes: describeVolumes,
  DeleteVolume: deleteVolume,
  ModifyVolume: modifyVolume,
  DescribeVolumesModifications: describeVolumesModifications,
  CreateSnapshot: createSnapshot,
  CreateSnapshots: createSnapshots,
  DescribeSnapshots: describeSnapshots,
  CopySnapshot: copySnapshot,
  ModifySnapshotAttribute: modifySnapshotAttribute,
  DescribeSnapshotAttribute: describeSnapshotAttribute,
  ResetSnapshotAttribute: resetSnapshotAttribute,
  DeleteSnapshot: deleteSnapshot,
  ImportSnapshot: importSnapshot,
  DescribeImportSnapshotTasks: describeImportSnapshotTasks,
  CancelImportTask: cancelImportTask,
  CreateTags: createTags,
  DeleteTags: deleteTags,
  DescribeTags: describeTags,
};
