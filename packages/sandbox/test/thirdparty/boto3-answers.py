"""Drives the sandbox with Debian's boto3 and prints what each call answered, as JSON, for boto3.test.ts.

Usage: python3 boto3-answers.py ENDPOINT ACCESS_KEY_ID SECRET_ACCESS_KEY
Debian 12's boto3 predates AWS_ENDPOINT_URL: the endpoint is passed to each client as endpoint_url.
"""

import json
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, key, secret = sys.argv[1:4]
config = Config(retries={"total_max_attempts": 1, "mode": "standard"}, s3={"addressing_style": "path"})


def client(service, region="us-east-1", access_key=key, secret_key=secret):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=config,
    )


def answer(call):
    """{"ok": result} or {"code", "message", "status"} of the refusal."""
    try:
        result = call()
        result.pop("ResponseMetadata", None)
        return {"ok": result}
    except ClientError as e:
        err = e.response.get("Error", {})
        return {
            "code": err.get("Code"),
            "message": err.get("Message"),
            "status": e.response.get("ResponseMetadata", {}).get("HTTPStatusCode"),
        }


def create(region, bucket, constraint=None):
    s3 = client("s3", region)
    if constraint is None:
        return answer(lambda: s3.create_bucket(Bucket=bucket))
    return answer(
        lambda: s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": constraint})
    )


def location(bucket):
    return answer(lambda: client("s3").get_bucket_location(Bucket=bucket))


wrong_secret = {"secret_key": "x" * 40}
unknown_key = {"access_key": "AKIAUNKNOWN000000000"}
out = {}

# Credentials EC2 cannot validate, and what the other services answer to the same.
for who, creds in (("wrongSecret", wrong_secret), ("unknownKey", unknown_key)):
    out[f"ec2 {who}"] = answer(lambda: client("ec2", **creds).describe_regions())
    out[f"s3 {who}"] = answer(lambda: client("s3", **creds).list_buckets())
    out[f"sts {who}"] = answer(lambda: client("sts", **creds).get_caller_identity())
    out[f"kms {who}"] = answer(lambda: client("kms", **creds).list_keys())
out["ec2 own key"] = answer(lambda: {"n": len(client("ec2").describe_regions()["Regions"])})

# CreateBucket: refused.
out["eu-west-1 unspecified"] = create("eu-west-1", "py-refused")
out["eu-west-1 us-west-2"] = create("eu-west-1", "py-refused", "us-west-2")
out["eu-west-1 us-east-1"] = create("eu-west-1", "py-refused", "us-east-1")
out["us-west-2 EU"] = create("us-west-2", "py-refused", "EU")
out["eu-west-1 nowhere"] = create("eu-west-1", "py-refused", "nowhere")
out["us-east-1 nowhere"] = create("us-east-1", "py-refused", "nowhere")
out["us-east-1 us-east-1"] = create("us-east-1", "py-refused", "us-east-1")

# CreateBucket: created, and where GetBucketLocation says the bucket is.
for region, bucket, constraint in (
    ("us-east-1", "py-plain", None),
    ("us-east-1", "py-global-eu", "eu-west-1"),
    ("us-east-1", "py-global-legacy-eu", "EU"),
    ("eu-west-1", "py-regional-eu", "eu-west-1"),
    ("us-west-2", "py-regional-west", "us-west-2"),
):
    made = create(region, bucket, constraint)
    out[f"{region} {constraint} create"] = {"ok": True} if "ok" in made else made
    out[f"{region} {constraint} location"] = location(bucket)
out["global-eu used from eu-west-1"] = answer(
    lambda: {"keys": client("s3", "eu-west-1").list_objects_v2(Bucket="py-global-eu")["KeyCount"]}
)

print(json.dumps(out))
