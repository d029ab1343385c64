"""Where each network of the paper splits into task branches (method.md section 4 table).

A network is a tree of branches. Each branch runs its layers on its parent's output, then
its task heads on the result, then its child branches. Layers named alike in two branches
(e.g. fc5 in both branches of MTCNN #2) are separate copies with their own weights. The
optional score-distribution head (model.distribution_head) is added beside every aesthetic
head (not the auxiliary one of Enhanced MTCNN).
"""

import dataclasses

CONV = ('conv1', 'conv2', 'conv3', 'conv4')
FC = ('fc5', 'fc6')


def conv2_branch_layers(num_hidden: int) -> tuple[str, ...]:
  """Hidden fc layers of the aesthetic path that leaves after conv2 (MTCNN #3's aesthetic
  branch, Enhanced MTCNN's auxiliary branch): 'branch_fc1' .. 'branch_fc<num_hidden>'.

  The paper counts a network's output layer as a fully connected layer, so MTCNN #3's
  "two convolutional layers and two fully-connected layers" for aesthetics are conv1-2,
  ONE hidden fc layer and the head (method.md section 4): num_hidden = 1 by default
  (model.conv2_branch_fc_layers).
  """
  return tuple(f'branch_fc{i + 1}' for i in range(num_hidden))


@dataclasses.dataclass(frozen=True)
class Branch:
  name: str
  layers: tuple[str, ...]
  heads: tuple[str, ...] = ()
  children: tuple['Branch', ...] = ()

  def all_heads(self) -> tuple[str, ...]:
    return self.heads + tuple(h for c in self.children for h in c.all_heads())


def _topologies(body: tuple[str, ...], conv2_branch: tuple[str, ...]) -> dict[str, Branch]:
  return {
      # Single task: the aesthetic head alone (lambda = 0 is the same net with a semantic head).
      'stcnn': Branch('shared', body, heads=('aesthetic',)),
      # MTCNN #1: all of conv1-fc6 shared, split only at the output layers.
      'mtcnn1': Branch('shared', body, heads=('aesthetic', 'semantic')),
      # MTCNN #2: conv1-conv4 shared, each task has its own fc5 and fc6.
      'mtcnn2': Branch('shared', CONV, children=(
          Branch('aesthetic_branch', FC, heads=('aesthetic',)),
          Branch('semantic_branch', FC, heads=('semantic',)))),
      # MTCNN #3: conv1-conv2 shared; aesthetic: the conv2 branch's hidden fc layer(s) and its
      # head; semantic: conv3-fc6.
      'mtcnn3': Branch('shared', CONV[:2], children=(
          Branch('aesthetic_branch', conv2_branch, heads=('aesthetic',)),
          Branch('semantic_branch', CONV[2:] + FC, heads=('semantic',)))),
      # Enhanced MTCNN: conv1-conv2 shared by three tasks; conv3-fc6 by aesthetic and
      # semantic; an auxiliary aesthetic head on conv2 through MTCNN #3's aesthetic path.
      'enhanced': Branch('shared', CONV[:2], children=(
          Branch('main_branch', CONV[2:] + FC, heads=('aesthetic', 'semantic')),
          Branch('auxiliary_branch', conv2_branch, heads=('aesthetic_aux',)))),
  }


ARCHITECTURES = tuple(_topologies(CONV + FC, conv2_branch_layers(1)))


def _add_head_beside(branch: Branch, anchor: str, head: str) -> Branch:
  heads = tuple(h for a in branch.heads for h in ((a, head) if a == anchor else (a,)))
  children = tuple(_add_head_beside(c, anchor, head) for c in branch.children)
  return dataclasses.replace(branch, heads=heads, children=children)


def topology(architecture: str, body: tuple[str, ...] = CONV + FC, *,
             conv2_branch_hidden: int = 1, distribution_head: bool = False) -> Branch:
  """The branch tree of `architecture`; `body` replaces conv1-fc6 in STCNN/MTCNN #1.

  conv2_branch_hidden: hidden fc layers of the aesthetic path after conv2 (MTCNN #3,
    Enhanced MTCNN's auxiliary branch); see conv2_branch_layers.
  distribution_head: add the 'distribution' head next to every 'aesthetic' head.
  """
  tops = _topologies(tuple(body), conv2_branch_layers(conv2_branch_hidden))
  if architecture not in tops:
    raise ValueError(f'Unknown architecture {architecture!r}; choose one of {sorted(tops)}.')
  if distribution_head:
    return _add_head_beside(tops[architecture], 'aesthetic', 'distribution')
  return tops[architecture]
