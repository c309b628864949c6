"""The AWS CDK app of prompt-rollback: one stack, one construct per concern."""
