// Reads the project's Bicep files with the tree-sitter Bicep grammar (WebAssembly, no native code, no network): a
// syntax check and a symbol table, which is what can be checked here without the Bicep compiler. `az bicep build`
// in the GitHub workflow remains the real check (types, resource schemas, the AVM modules).
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './paths';
import type { Node as SyntaxNode, Parser as ParserType } from 'web-tree-sitter';

export const BICEP_DIR = path.join(REPO_ROOT, 'bicep');

let parserPromise: Promise<ParserType> | undefined;

async function createParser(): Promise<ParserType> {
  const { Parser, Language } = await import('web-tree-sitter');
  await Parser.init();
  // Bytes rather than a path: loading by path goes through a dynamic import() that jest's VM does not allow.
  const language = await Language.load(fs.readFileSync(require.resolve('tree-sitter-bicep/tree-sitter-bicep.wasm')));
  const parser = new Parser();
  parser.setLanguage(language);
  return parser;
}

export interface Declaration {
  readonly name: string;
  readonly node: SyntaxNode;
}

export interface ParamDeclaration extends Declaration {
  readonly hasDefault: boolean;
}

export interface ResourceDeclaration extends Declaration {
  /** `Microsoft.X/y@version`, or the child type ('config') of a nested resource. */
  readonly type: string;
  readonly existing: boolean;
}

export interface ModuleDeclaration extends Declaration {
  readonly path: string;
  /** Keys of its `params: { ... }`. */
  readonly params: string[];
}

export interface BicepFile {
  readonly file: string;
  readonly source: string;
  readonly root: SyntaxNode;
  readonly syntaxErrors: string[];
  readonly params: ParamDeclaration[];
  readonly variables: Declaration[];
  readonly resources: ResourceDeclaration[];
  readonly modules: ModuleDeclaration[];
  readonly imports: { names: string[]; path: string }[];
  readonly outputs: Declaration[];
  /** Every identifier read in an expression (not a declared name, an object key or a function name). */
  readonly references: Set<string>;
  /** Every name that can be referenced: params, variables, resources, modules, imports, loop variables, functions. */
  readonly declared: Set<string>;
}

/** The text of a string node without quotes; undefined when it interpolates. */
export function stringValue(node: SyntaxNode | null | undefined): string | undefined {
  if (!node || node.type !== 'string') return undefined;
  if (node.namedChildren.some((c) => c?.type === 'interpolation')) return undefined;
  return node.namedChildren.map((c) => c?.text ?? '').join('');
}

/** Key of an object property: an identifier or a quoted string. */
export function propertyKey(property: SyntaxNode): string {
  const key = property.namedChild(0)!;
  return key.type === 'string' ? key.namedChildren.map((c) => c?.text ?? '').join('') : key.text;
}

export function objectProperties(object: SyntaxNode | null | undefined): Map<string, SyntaxNode> {
  const out = new Map<string, SyntaxNode>();
  for (const child of object?.namedChildren ?? []) {
    if (child?.type === 'object_property') out.set(propertyKey(child), child.namedChild(1)!);
  }
  return out;
}

/** The object a declaration's value is, looking through `[for ...: if (...) { }]` and `if (...) { }`. */
export function bodyObject(node: SyntaxNode): SyntaxNode | undefined {
  const found = node.descendantsOfType('object')[0];
  return found ?? undefined;
}

function walk(node: SyntaxNode, visit: (n: SyntaxNode) => void): void {
  visit(node);
  for (const child of node.children) if (child) walk(child, visit);
}

const DECLARATIONS = new Set([
  'parameter_declaration',
  'variable_declaration',
  'resource_declaration',
  'module_declaration',
  'output_declaration',
  'type_declaration',
  'user_defined_function',
  'import_functionality',
]);

function isReference(id: SyntaxNode): boolean {
  const parent = id.parent;
  if (!parent) return false;
  // The declared name (first child) is not a reference; an identifier later in a declaration is (a value).
  if (parent.type === 'import_functionality') return false;
  if (DECLARATIONS.has(parent.type)) return parent.namedChild(0)?.id !== id.id;
  if (parent.type === 'object_property' && parent.namedChild(0)?.id === id.id) return false;
  if (parent.type === 'call_expression' && parent.childForFieldName('function')?.id === id.id) return false;
  if (parent.type === 'resource_expression' && parent.childForFieldName('resource')?.id === id.id) return false;
  if (parent.type === 'parameter') return false;
  return true;
}

export async function parseBicep(file: string): Promise<BicepFile> {
  parserPromise ??= createParser();
  const parser = await parserPromise;
  const source = fs.readFileSync(file, 'utf8');
  const tree = parser.parse(source);
  if (!tree) throw new Error(`tree-sitter returned no tree for ${file}`);
  const root = tree.rootNode;
  const syntaxErrors: string[] = [];
  const params: ParamDeclaration[] = [];
  const variables: Declaration[] = [];
  const resources: ResourceDeclaration[] = [];
  const modules: ModuleDeclaration[] = [];
  const imports: { names: string[]; path: string }[] = [];
  const outputs: Declaration[] = [];
  const references = new Set<string>();
  const declared = new Set<string>();
  walk(root, (n) => {
    if (n.type === 'ERROR' || n.isMissing) {
      syntaxErrors.push(
        `${path.basename(file)}:${n.startPosition.row + 1}:${n.startPosition.column + 1}: ${n.isMissing ? `missing ${n.type}` : `cannot parse '${n.text.slice(0, 60)}'`}`,
      );
    }
    const name = n.namedChild(0)?.text ?? '';
    switch (n.type) {
      case 'parameter_declaration': {
        // param NAME TYPE [= default]: a default is a named child after the type.
        const typeIndex = n.namedChildren.findIndex((c) => c?.type === 'type');
        params.push({ name, node: n, hasDefault: typeIndex >= 0 && n.namedChildren.length > typeIndex + 1 });
        declared.add(name);
        break;
      }
      case 'variable_declaration':
        variables.push({ name, node: n });
        declared.add(name);
        break;
      case 'resource_declaration':
        resources.push({
          name,
          node: n,
          type: stringValue(n.namedChild(1)) ?? '',
          existing: n.children.some((c) => c?.text === 'existing'),
        });
        declared.add(name);
        break;
      case 'module_declaration': {
        const body = bodyObject(n);
        const paramsObject = body ? objectProperties(body).get('params') : undefined;
        modules.push({ name, node: n, path: stringValue(n.namedChild(1)) ?? '', params: [...objectProperties(paramsObject).keys()] });
        declared.add(name);
        break;
      }
      case 'import_functionality': {
        const names = n.namedChildren.filter((c) => c?.type === 'identifier').map((c) => c!.text);
        imports.push({ names, path: stringValue(n.namedChildren.find((c) => c?.type === 'string')) ?? '' });
        names.forEach((x) => declared.add(x));
        break;
      }
      case 'output_declaration':
        outputs.push({ name, node: n });
        break;
      case 'user_defined_function':
        declared.add(n.childForFieldName('name')?.text ?? name);
        break;
      case 'loop_variable':
      case 'loop_enumerator':
        declared.add(n.text);
        break;
      case 'identifier':
        // `[for item in list: ...]`: the loop variable is a declaration.
        if (n.parent?.type === 'for_statement' && n.parent.namedChild(0)?.id === n.id) declared.add(n.text);
        else if (isReference(n)) references.add(n.text);
        break;
    }
  });
  return { file, source, root, syntaxErrors, params, variables, resources, modules, imports, outputs, references, declared };
}

/** Every .bicep file under bicep/, relative paths sorted. */
export function bicepFiles(dir = BICEP_DIR): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.bicep'))
    .map((f) => path.join(dir, f))
    .sort();
}

/** The object literal assigned to `var NAME = { ... }` in a parsed file. */
export function variableObject(file: BicepFile, name: string): Map<string, SyntaxNode> {
  const decl = file.variables.find((v) => v.name === name);
  if (!decl) throw new Error(`${path.basename(file.file)} has no variable ${name}`);
  const value = decl.node.namedChild(1);
  if (value?.type !== 'object') throw new Error(`${name} in ${path.basename(file.file)} is not an object literal`);
  return objectProperties(value);
}
