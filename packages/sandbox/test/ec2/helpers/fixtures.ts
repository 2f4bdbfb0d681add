import {
  DescribeImagesCommand,
  type EC2Client,
  RunInstancesCommand,
  type RunInstancesCommandInput,
} from '@aws-sdk/client-ec2';

/** The id of a public Amazon Linux image in the client's region. */
export async function publicImageId(ec2: EC2Client): Promise<string> {
  const r = await ec2.send(
    new DescribeImagesCommand({ Owners: ['amazon'], Filters: [{ Name: 'name', Values: ['al2023-ami-*'] }] }),
  );
  return r.Images![0]!.ImageId!;
}

export async function launch(ec2: EC2Client, input: Partial<RunInstancesCommandInput> = {}) {
  const r = await ec2.send(
    new RunInstancesCommand({
      ImageId: await publicImageId(ec2),
      InstanceType: 't3.micro',
      MinCount: 1,
      MaxCount: 1,
      ...input,
    }),
  );
  return r.Instances!;
}
