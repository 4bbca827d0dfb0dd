"""The student's parts of the course's starter notebooks (the bare ``pass`` after each TODO),
in the order they appear, per notebook file."""

SOLUTIONS: dict[str, list[str]] = {
    "knn_2019": [
        """\
X_train_folds = np.array_split(X_train, num_folds)
y_train_folds = np.array_split(y_train, num_folds)
""",
        """\
for k in k_choices:
    k_to_accuracies[k] = []
for fold in range(num_folds):
    X_tr = np.concatenate(X_train_folds[:fold] + X_train_folds[fold + 1:])
    y_tr = np.concatenate(y_train_folds[:fold] + y_train_folds[fold + 1:])
    fold_classifier = KNearestNeighbor()
    fold_classifier.train(X_tr, y_tr)
    fold_dists = fold_classifier.compute_distances_no_loops(X_train_folds[fold])
    for k in k_choices:
        y_fold_pred = fold_classifier.predict_labels(fold_dists, k=k)
        k_to_accuracies[k].append(np.mean(y_fold_pred == y_train_folds[fold]))
""",
    ],
    "svm_2019": [
        """\
for lr in learning_rates:
    for reg in regularization_strengths:
        candidate = LinearSVM()
        candidate.train(X_train, y_train, learning_rate=lr, reg=reg, num_iters=300)
        train_accuracy = np.mean(y_train == candidate.predict(X_train))
        val_accuracy = np.mean(y_val == candidate.predict(X_val))
        results[(lr, reg)] = (train_accuracy, val_accuracy)
        if val_accuracy > best_val:
            best_val, best_svm = val_accuracy, candidate
""",
    ],
    "softmax_2019": [
        """\
for lr in learning_rates:
    for reg in regularization_strengths:
        candidate = Softmax()
        candidate.train(X_train, y_train, learning_rate=lr, reg=reg, num_iters=300)
        train_accuracy = np.mean(y_train == candidate.predict(X_train))
        val_accuracy = np.mean(y_val == candidate.predict(X_val))
        results[(lr, reg)] = (train_accuracy, val_accuracy)
        if val_accuracy > best_val:
            best_val, best_softmax = val_accuracy, candidate
""",
    ],
    "two_layer_net_2019": [
        """\
best_val = -1
for lr, reg in [(1e-3, 0.25), (5e-4, 0.5)]:
    candidate = TwoLayerNet(input_size, hidden_size, num_classes)
    candidate.train(X_train, y_train, X_val, y_val, num_iters=300, batch_size=200,
                    learning_rate=lr, learning_rate_decay=0.95, reg=reg)
    candidate_val = (candidate.predict(X_val) == y_val).mean()
    print('lr %e reg %e val accuracy: %f' % (lr, reg, candidate_val))
    if candidate_val > best_val:
        best_val, best_net = candidate_val, candidate
""",
    ],
    "features_2019": [
        """\
for lr in learning_rates:
    for reg in regularization_strengths:
        candidate = LinearSVM()
        candidate.train(X_train_feats, y_train, learning_rate=lr, reg=reg, num_iters=300)
        train_accuracy = np.mean(y_train == candidate.predict(X_train_feats))
        val_accuracy = np.mean(y_val == candidate.predict(X_val_feats))
        results[(lr, reg)] = (train_accuracy, val_accuracy)
        if val_accuracy > best_val:
            best_val, best_svm = val_accuracy, candidate
""",
        """\
stats = net.train(X_train_feats, y_train, X_val_feats, y_val, num_iters=500,
                  batch_size=200, learning_rate=0.5, learning_rate_decay=0.95, reg=1e-3)
print('validation accuracy: %f' % (net.predict(X_val_feats) == y_val).mean())
best_net = net
""",
    ],
    "softmax_2024": [
        """\
for lr in learning_rates:
    for reg in regularization_strengths:
        candidate = Softmax()
        candidate.train(X_train, y_train, learning_rate=lr, reg=reg, num_iters=300)
        train_accuracy = np.mean(y_train == candidate.predict(X_train))
        val_accuracy = np.mean(y_val == candidate.predict(X_val))
        results[(lr, reg)] = (train_accuracy, val_accuracy)
        if val_accuracy > best_val:
            best_val, best_softmax = val_accuracy, candidate
""",
    ],
    "svm_2024": [
        """\
for lr in learning_rates:
    for reg in regularization_strengths:
        candidate = LinearSVM()
        candidate.train(X_train, y_train, learning_rate=lr, reg=reg, num_iters=300)
        train_accuracy = np.mean(y_train == candidate.predict(X_train))
        val_accuracy = np.mean(y_val == candidate.predict(X_val))
        results[(lr, reg)] = (train_accuracy, val_accuracy)
        if val_accuracy > best_val:
            best_val, best_svm = val_accuracy, candidate
""",
    ],
    "two_layer_net_2024": [
        """\
solver = Solver(model, data, update_rule='sgd', optim_config={'learning_rate': 1e-3},
                lr_decay=0.95, num_epochs=1, batch_size=200, print_every=100)
solver.train()
""",
        # The search reaches a learning rate that diverges on CIFAR-10 (as students' do):
        # the course's Solver warns and goes on.
        """\
best_val = -1
for learning_rate in [1e-3, 1e1]:
    candidate = TwoLayerNet(input_size, hidden_size, num_classes)
    candidate_solver = Solver(candidate, data, update_rule='sgd',
                              optim_config={'learning_rate': learning_rate},
                              lr_decay=0.95, num_epochs=1, batch_size=200, verbose=False)
    candidate_solver.train()
    print('lr %e best val accuracy %f' % (learning_rate, candidate_solver.best_val_acc))
    if candidate_solver.best_val_acc > best_val:
        best_val, best_model = candidate_solver.best_val_acc, candidate
""",
    ],
    "features_2024": [
        """\
for lr in learning_rates:
    for reg in regularization_strengths:
        candidate = LinearSVM()
        candidate.train(X_train_feats, y_train, learning_rate=lr, reg=reg, num_iters=300)
        train_accuracy = np.mean(y_train == candidate.predict(X_train_feats))
        val_accuracy = np.mean(y_val == candidate.predict(X_val_feats))
        results[(lr, reg)] = (train_accuracy, val_accuracy)
        if val_accuracy > best_val:
            best_val, best_svm = val_accuracy, candidate
""",
        """\
solver = Solver(net, data, update_rule='sgd', optim_config={'learning_rate': 0.1},
                lr_decay=0.95, num_epochs=2, batch_size=200, print_every=100)
solver.train()
best_net = net
""",
    ],
}
SOLUTIONS["knn_2024"] = SOLUTIONS["knn_2019"]  # the same cells, the same student's parts
