// The lint rules: BuildKit's (same names, messages and documentation URLs,
// so users can look them up) plus tsbuild's own UntaggedOrLatestBaseImage.

export interface LintRule<A extends unknown[]> {
  readonly name: string;
  readonly description: string;
  readonly url?: string;
  /** Experimental rules run only when enabled with `# check=experimental=...`. */
  readonly experimental?: boolean;
  readonly format: (...args: A) => string;
}

const docs = (slug: string) => `https://docs.docker.com/go/dockerfile/rule/${slug}/`;

function rule<A extends unknown[]>(r: LintRule<A>): LintRule<A> {
  return r;
}

export const StageNameCasing = rule({
  name: 'StageNameCasing',
  description: 'Stage names should be lowercase',
  url: docs('stage-name-casing'),
  format: (stageName: string) => `Stage name '${stageName}' should be lowercase`,
});

export const FromAsCasing = rule({
  name: 'FromAsCasing',
  description: "The 'as' keyword should match the case of the 'from' keyword",
  url: docs('from-as-casing'),
  format: (from: string, as: string) => `'${as}' and '${from}' keywords' casing do not match`,
});

export const NoEmptyContinuation = rule({
  name: 'NoEmptyContinuation',
  description: 'Empty continuation lines will become errors in a future release',
  url: docs('no-empty-continuation'),
  format: () => 'Empty continuation line',
});

export const ConsistentInstructionCasing = rule({
  name: 'ConsistentInstructionCasing',
  description: 'All commands within the Dockerfile should use the same casing (either upper or lower)',
  url: docs('consistent-instruction-casing'),
  format: (command: string, casing: string) => `Command '${command}' should match the case of the command majority (${casing})`,
});

export const DuplicateStageName = rule({
  name: 'DuplicateStageName',
  description: 'Stage names should be unique',
  url: docs('duplicate-stage-name'),
  format: (stageName: string) => `Duplicate stage name ${JSON.stringify(stageName)}, stage names should be unique`,
});

export const ReservedStageName = rule({
  name: 'ReservedStageName',
  description: 'Reserved words should not be used as stage names',
  url: docs('reserved-stage-name'),
  format: (stageName: string) => `Stage name should not use the same name as reserved stage ${JSON.stringify(stageName)}`,
});

export const JSONArgsRecommended = rule({
  name: 'JSONArgsRecommended',
  description: 'JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals',
  url: docs('json-args-recommended'),
  format: (instruction: string) => `JSON arguments recommended for ${instruction} to prevent unintended behavior related to OS signals`,
});

export const MaintainerDeprecated = rule({
  name: 'MaintainerDeprecated',
  description: 'The MAINTAINER instruction is deprecated, use a label instead to define an image author',
  url: docs('maintainer-deprecated'),
  format: () => 'Maintainer instruction is deprecated in favor of using label',
});

export const UndefinedArgInFrom = rule({
  name: 'UndefinedArgInFrom',
  description: 'FROM command must use declared ARGs',
  url: docs('undefined-arg-in-from'),
  format: (arg: string, suggestion?: string) =>
    `FROM argument '${arg}' is not declared${suggestion ? ` (did you mean ${suggestion}?)` : ''}`,
});

export const WorkdirRelativePath = rule({
  name: 'WorkdirRelativePath',
  description: 'Relative workdir without an absolute workdir declared within the build can have unexpected results if the base image changes',
  url: docs('workdir-relative-path'),
  format: (workdir: string) => `Relative workdir ${JSON.stringify(workdir)} can have unexpected results if the base image changes`,
});

export const UndefinedVar = rule({
  name: 'UndefinedVar',
  description: 'Variables should be defined before their use',
  url: docs('undefined-var'),
  format: (name: string, suggestion?: string) =>
    `Usage of undefined variable '$${name}'${suggestion ? ` (did you mean $${suggestion}?)` : ''}`,
});

export const MultipleInstructionsDisallowed = rule({
  name: 'MultipleInstructionsDisallowed',
  description: 'Multiple instructions of the same type should not be used in the same stage',
  url: docs('multiple-instructions-disallowed'),
  format: (instruction: string) =>
    `Multiple ${instruction} instructions should not be used in the same stage because only the last one will be used`,
});

export const LegacyKeyValueFormat = rule({
  name: 'LegacyKeyValueFormat',
  description: 'Legacy key/value format with whitespace separator should not be used',
  url: docs('legacy-key-value-format'),
  format: (command: string) => `"${command} key=value" should be used instead of legacy "${command} key value" format`,
});

export const InvalidBaseImagePlatform = rule({
  name: 'InvalidBaseImagePlatform',
  description: 'Base image platform does not match expected target platform',
  format: (image: string, expected: string, actual: string) =>
    `Base image ${image} was pulled with platform ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)} for current build`,
});

export const RedundantTargetPlatform = rule({
  name: 'RedundantTargetPlatform',
  description: 'Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior',
  url: docs('redundant-target-platform'),
  format: (platform: string) => `Setting platform to predefined ${platform} in FROM is redundant as this is the default behavior`,
});

export const SecretsUsedInArgOrEnv = rule({
  name: 'SecretsUsedInArgOrEnv',
  description: 'Sensitive data should not be used in the ARG or ENV commands',
  url: docs('secrets-used-in-arg-or-env'),
  format: (instruction: string, key: string) =>
    `Do not use ARG or ENV instructions for sensitive data (${instruction} ${JSON.stringify(key)})`,
});

export const InvalidDefaultArgInFrom = rule({
  name: 'InvalidDefaultArgInFrom',
  description: 'Default value for global ARG results in an empty or invalid base image name',
  url: docs('invalid-default-arg-in-from'),
  format: (baseName: string) => `Default value for ARG ${baseName} results in empty or invalid base image name`,
});

export const FromPlatformFlagConstDisallowed = rule({
  name: 'FromPlatformFlagConstDisallowed',
  description: 'FROM --platform flag should not use a constant value',
  url: docs('from-platform-flag-const-disallowed'),
  format: (platform: string) => `FROM --platform flag should not use constant value ${JSON.stringify(platform)}`,
});

export const InvalidDefinitionDescription = rule({
  name: 'InvalidDefinitionDescription',
  description:
    'Comment for build stage or argument should follow the format: `# <arg/stage name> <description>`. If this is not intended to be a description comment, add an empty line or comment between the instruction and the comment.',
  url: docs('invalid-definition-description'),
  experimental: true,
  format: (instruction: string, name: string) => `Comment for ${instruction} should follow the format: \`# ${name} <description>\``,
});

export const ExposeProtoCasing = rule({
  name: 'ExposeProtoCasing',
  description: 'Protocol in EXPOSE instruction should be lowercase',
  url: docs('expose-proto-casing'),
  format: (port: string) => `Defined protocol '${port}' in EXPOSE instruction should be lowercase`,
});

export const ExposeInvalidFormat = rule({
  name: 'ExposeInvalidFormat',
  description: 'IP address and host-port mapping should not be used in EXPOSE instruction. This will become an error in a future release',
  url: docs('expose-invalid-format'),
  format: (port: string) => `EXPOSE instruction should not define an IP address or host-port mapping, found '${port}'`,
});

/** tsbuild's own rule (not in BuildKit): a base image without a pinned tag rebuilds differently over time. */
export const UntaggedOrLatestBaseImage = rule({
  name: 'UntaggedOrLatestBaseImage',
  description: 'Base images should be pinned to a specific tag or digest, not left untagged or set to latest',
  format: (image: string, latest: boolean) =>
    `Base image '${image}' ${latest ? "uses the 'latest' tag" : 'has no tag'}; pin a version tag or a digest so rebuilds stay reproducible`,
});
