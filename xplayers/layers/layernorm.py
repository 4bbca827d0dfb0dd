"""PLACEHOLDER: being written; replace this whole file."""



def layernorm_forward(*args, **kwargs):
    raise NotImplementedError("layernorm_forward")


def layernorm_backward(*args, **kwargs):
    raise NotImplementedError("layernorm_backward")
